-- Console sessions: a sign-in with an API key gives a session cookie; the
-- cookie's secret is stored only as a hash. A session lasts while its key
-- does: revoking the key (or, for a key from the configuration, removing
-- it) ends every session signed in with it.
CREATE TABLE console_sessions (
    id          bigserial PRIMARY KEY,
    token_hash  text        NOT NULL UNIQUE, -- sha256 of the cookie's secret, hex
    csrf_token  text        NOT NULL,        -- every form of the session carries it
    kind        text        NOT NULL CHECK (kind IN ('admin', 'partner')),
    partner_id  bigint REFERENCES partners (id),
    api_key_id  bigint REFERENCES api_keys (id), -- NULL: a key from the configuration
    key_hash    text        NOT NULL,            -- sha256 of the key signed in with
    key_name    text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CHECK ((kind = 'partner') = (partner_id IS NOT NULL))
);

CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- The commission-cycle report pages newest period first.
CREATE INDEX commission_cycles_report ON commission_cycles (period_start DESC, rule_id, partner_id, offer_id);

-- The conversion report filters by the Customer Value rule of a line.
CREATE INDEX ledger_lines_rule ON ledger_lines (rule_id) WHERE rule_id IS NOT NULL;

-- A payout run's lines, for its page and its CSV.
CREATE INDEX ledger_lines_payout_run ON ledger_lines (payout_run_id) WHERE payout_run_id IS NOT NULL;

-- The console's home page shows the latest band changes.
CREATE INDEX commission_cycles_band_reached ON commission_cycles (band_reached_at DESC) WHERE band_reached_at IS NOT NULL;
