pub mod form;
pub mod links;
pub mod live;
