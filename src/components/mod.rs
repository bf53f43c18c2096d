pub mod form;
pub mod links;
