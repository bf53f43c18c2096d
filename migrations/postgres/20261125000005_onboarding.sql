-- The setup wizard's progress, per user: where they are, which steps they marked done, and whether
-- they finished or skipped it. Steps the app can check itself (connected, webhook verified, an
-- invoice sent) are read from the data they describe, not stored here.
CREATE TABLE onboarding (
    user_id      BIGINT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    current_step TEXT   NOT NULL,
    finished_at  BIGINT,
    skipped_at   BIGINT,
    started_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE onboarding_steps (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    step    TEXT   NOT NULL,
    done_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, step)
);
