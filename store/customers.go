package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tierwise/tierwise/customervalue"
)

// Ledger reasons of Customer Value outcomes.
const (
	ReasonBonus    = "bonus"
	ReasonOverride = "override"
)

// ValueOutcome is a Customer Value outcome to write: a bonus on top of a
// conversion's payout, or an override that sets its payout (and revenue).
type ValueOutcome struct {
	RuleID       int64
	RuleName     string
	ConversionID int64
	Override     bool
	Payout       decimal.Decimal     // the bonus, or the override's target payout
	Revenue      decimal.NullDecimal // a bonus's extra revenue, or the override's target revenue
	Key          string              // idempotency key of the outcome
}

// RecordCustomer writes Customer Value outcomes and the customer's state
// snapshot in one transaction, and marks the evaluated conversions so. An
// outcome's lines are keyed, so writing it twice changes nothing. An
// override's line is the difference between its target and the
// conversion's layer 1–4 lines, which it supersedes.
func (s *Store) RecordCustomer(ctx context.Context, advertiserID int64, userID string, outcomes []ValueOutcome, evaluated []int64, snapshot any) error {
	state, err := json.Marshal(snapshot)
	if err != nil {
		return fmt.Errorf("encode customer snapshot: %w", err)
	}
	err = s.tx(ctx, func(tx pgx.Tx) error {
		for _, o := range outcomes {
			c, err := lockConversion(ctx, tx, o.ConversionID)
			if err != nil {
				return err
			}
			if c.ReversedAt != nil || c.Status != StatusApproved {
				continue // reversed since: nothing to pay
			}
			lines, err := outcomeLines(ctx, tx, c, o)
			if err != nil {
				return err
			}
			if err := appendValueLines(ctx, tx, c, o.RuleID, lines); err != nil {
				return err
			}
			if o.Override {
				// The override was computed on the amounts at pricing; a
				// refund since then re-targets it.
				if err := retargetAfterRefunds(ctx, tx, c); err != nil {
					return err
				}
			}
			if _, err := updateTotals(ctx, tx, c.ID); err != nil {
				return err
			}
		}
		if err := markValueEvaluated(ctx, tx, evaluated); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO customer_snapshots (advertiser_id, user_id, state) VALUES ($1, $2, $3)
			ON CONFLICT (advertiser_id, user_id) DO UPDATE SET state = excluded.state, updated_at = now()`,
			advertiserID, userID, state); err != nil {
			return fmt.Errorf("save customer snapshot: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record customer %d/%s: %w", advertiserID, userID, err)
	}
	return nil
}

// appendValueLines appends a Customer Value rule's lines to a conversion,
// keyed, so appending them again writes nothing.
func appendValueLines(ctx context.Context, tx pgx.Tx, c Conversion, ruleID int64, lines []NewLine) error {
	for _, l := range lines {
		tag, err := tx.Exec(ctx, `INSERT INTO ledger_lines (conversion_id, partner_id, kind, amount, reason, layer, note, key, rule_id)
			VALUES ($1, $2, $3, $4, $5, 'customer_value', $6, $7, $8) ON CONFLICT (conversion_id, kind, key) DO NOTHING`,
			c.ID, c.PartnerID, l.Kind, l.Amount, l.Reason, l.Note, l.Key, ruleID)
		if err != nil {
			return fmt.Errorf("append %s line %q: %w", l.Kind, l.Key, err)
		}
		observed(tx).linesWritten(l.Kind, l.Reason, tag.RowsAffected())
	}
	return nil
}

// retargetOverride brings an overridden conversion's payout (and its
// revenue, when the override sets it) to the override rule's targets on
// the conversion's sale amount and layer 1–3 revenue net of its refunds,
// with lines keyed by the refund. An override replaces layers 1–4, so a
// refund's layer 1–4 deltas do not add to it; a percent override follows
// the refunded amounts, a fixed one stays. The rule is read as it is now.
func retargetOverride(ctx context.Context, tx pgx.Tx, c Conversion, sale, revenue decimal.Decimal, key, refundNote string) error {
	var ruleID int64
	err := tx.QueryRow(ctx, `SELECT rule_id FROM ledger_lines
		WHERE conversion_id = $1 AND reason = 'override' AND kind = 'payout' ORDER BY id LIMIT 1`, c.ID).Scan(&ruleID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find the override of conversion %d: %w", c.ID, err)
	}
	rule, err := scanCustomerValueRule(tx.QueryRow(ctx, `SELECT `+customerValueRuleColumns+` FROM customer_value_rules WHERE id = $1`, ruleID))
	if err != nil {
		return fmt.Errorf("read override rule %d: %w", ruleID, err)
	}
	payout, rev := customervalue.OverrideTargets(rule.Rule, c.Currency, sale, revenue)
	var curPayout, curRevenue decimal.Decimal
	if err := tx.QueryRow(ctx, `SELECT
			coalesce(sum(amount) FILTER (WHERE kind = 'payout'), 0),
			coalesce(sum(amount) FILTER (WHERE kind = 'revenue'), 0)
		FROM ledger_lines WHERE conversion_id = $1 AND reason <> 'bonus'`, c.ID).Scan(&curPayout, &curRevenue); err != nil {
		return fmt.Errorf("sum layer 1-5 lines: %w", err)
	}
	note := fmt.Sprintf("override of Customer Value rule %d %q after %s: %s", ruleID, rule.Name, refundNote, payout.Formula)
	var lines []NewLine
	if d := payout.Amount.Sub(curPayout); !d.IsZero() {
		lines = append(lines, NewLine{Kind: KindPayout, Amount: d, Reason: ReasonOverride, Note: note, Key: key + ":override"})
	}
	if rev != nil {
		if d := rev.Amount.Sub(curRevenue); !d.IsZero() {
			lines = append(lines, NewLine{Kind: KindRevenue, Amount: d, Reason: ReasonOverride, Note: note, Key: key + ":override"})
		}
	}
	return appendValueLines(ctx, tx, c, ruleID, lines)
}

// retargetAfterRefunds re-targets a conversion's override on its amounts
// net of the refunds it has had, under the latest refund's key (the one
// that refund would have used had the override been written before it).
func retargetAfterRefunds(ctx context.Context, tx pgx.Tx, c Conversion) error {
	var refunded, revenue decimal.Decimal
	var last int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(sale_amount), 0), coalesce(max(id), 0) FROM refunds WHERE conversion_id = $1`,
		c.ID).Scan(&refunded, &last); err != nil {
		return fmt.Errorf("sum refunds: %w", err)
	}
	if last == 0 {
		return nil
	}
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0) FROM ledger_lines
		WHERE conversion_id = $1 AND kind = 'revenue' AND reason IN `+layer13, c.ID).Scan(&revenue); err != nil {
		return fmt.Errorf("sum layer 1-3 revenue: %w", err)
	}
	return retargetOverride(ctx, tx, c, c.SaleAmount.Sub(refunded), revenue, fmt.Sprintf("refund:%d", last), fmt.Sprintf("refund %d", last))
}

func outcomeLines(ctx context.Context, tx pgx.Tx, c Conversion, o ValueOutcome) ([]NewLine, error) {
	if !o.Override {
		note := fmt.Sprintf("bonus of Customer Value rule %d %q", o.RuleID, o.RuleName)
		lines := []NewLine{{Kind: KindPayout, Amount: o.Payout, Reason: ReasonBonus, Note: note, Key: o.Key}}
		if o.Revenue.Valid && !o.Revenue.Decimal.IsZero() {
			lines = append(lines, NewLine{Kind: KindRevenue, Amount: o.Revenue.Decimal, Reason: ReasonBonus, Note: note, Key: o.Key})
		}
		return lines, nil
	}
	var payout, revenue decimal.Decimal
	if err := tx.QueryRow(ctx, `SELECT
			coalesce(sum(amount) FILTER (WHERE kind = 'payout'), 0),
			coalesce(sum(amount) FILTER (WHERE kind = 'revenue'), 0)
		FROM ledger_lines WHERE conversion_id = $1 AND reason IN ('price', 'refund', 'manual', 'tiered', 'retro')`, c.ID).Scan(&payout, &revenue); err != nil {
		return nil, fmt.Errorf("sum layer 1-4 lines: %w", err)
	}
	// An override sets the payout to its target, rounded (ties away from
	// zero): the line is that minus layers 1–4, a difference of rounded
	// amounts (§13.21), so the partner is paid what the rule says.
	note := fmt.Sprintf("override of Customer Value rule %d %q replaces layers 1-4 (%s)", o.RuleID, o.RuleName, payout)
	lines := []NewLine{{Kind: KindPayout, Amount: o.Payout.Sub(payout), Reason: ReasonOverride, Note: note, Key: o.Key}}
	if o.Revenue.Valid {
		lines = append(lines, NewLine{Kind: KindRevenue, Amount: o.Revenue.Decimal.Sub(revenue), Reason: ReasonOverride, Note: note, Key: o.Key})
	}
	return lines, nil
}

// CustomerSnapshot returns the customer's saved workflow state, nil when
// there is none.
func (s *Store) CustomerSnapshot(ctx context.Context, advertiserID int64, userID string) ([]byte, error) {
	var state []byte
	err := s.pool.QueryRow(ctx, `SELECT state FROM customer_snapshots WHERE advertiser_id = $1 AND user_id = $2`,
		advertiserID, userID).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read customer snapshot: %w", err)
	}
	return state, nil
}
