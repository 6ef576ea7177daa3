-- The network: one row of settings that every period and amount depends on.
CREATE TABLE network (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    time_zone  text        NOT NULL DEFAULT 'UTC',
    currency   text        NOT NULL DEFAULT 'USD',
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO network DEFAULT VALUES;
