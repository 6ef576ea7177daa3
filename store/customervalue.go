package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tierwise/tierwise/customervalue"
)

// Customer Value rule statuses, as stored: the manager's switch.
const (
	CustomerValueActive = "active"
	CustomerValuePaused = "paused"
)

// Customer Value rule lifecycles: the status together with the rule's dates.
const (
	LifecycleScheduled = "scheduled" // active, starts in the future
	LifecycleRunning   = "running"   // active, started, not ended
	LifecyclePaused    = "paused"    // paused, not ended
	LifecycleExpired   = "expired"   // ended, whatever its status
)

// CustomerValueRuleRecord is a stored Customer Value rule: the rule (ID,
// Name, Active and CreatedAt from the table's columns, condition types
// resolved), its status and when it last changed.
type CustomerValueRuleRecord struct {
	customervalue.Rule
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
	// goalsLockedAt is when a change to the rule (a pause, a replacement)
	// found it running; nil if none has.
	goalsLockedAt *time.Time
}

// GoalsLocked reports whether the rule's goals and cycle settings are
// locked at now: once a rule has run they stay as they were, paused or not
// (DESIGN.md §7), because the progress its customers counted was counted
// under them.
func (r CustomerValueRuleRecord) GoalsLocked(now time.Time) bool {
	return r.goalsLockedAt != nil || CustomerValueRunning(r.Rule, now)
}

// goalsLockTime is what a change at now records in goals_locked_at: now
// when the rule it changes is running, else nothing (the column keeps an
// earlier lock).
func goalsLockTime(old CustomerValueRuleRecord, now time.Time) *time.Time {
	if CustomerValueRunning(old.Rule, now) {
		return &now
	}
	return nil
}

// CustomerValueLifecycle is the lifecycle of a rule at now: expired once its
// end has passed, else paused when it is, else scheduled before its start,
// else running.
func CustomerValueLifecycle(r customervalue.Rule, now time.Time) string {
	switch {
	case r.EndsAt != nil && !r.EndsAt.After(now):
		return LifecycleExpired
	case !r.Active:
		return LifecyclePaused
	case r.StartsAt.After(now):
		return LifecycleScheduled
	}
	return LifecycleRunning
}

// CustomerValueRunning reports whether a rule runs at now, for the goals
// lock: it is active and has started. An expired rule still counts: late
// and backdated conversions land in its cycles under its settings.
func CustomerValueRunning(r customervalue.Rule, now time.Time) bool {
	return r.Active && (r.StartsAt.IsZero() || !r.StartsAt.After(now))
}

// CustomerValueRuleInput is a rule as the rule editor saves it, with the data
// points created from the editor. Problems name fields by their path in
// this input: "rule.conditions[1].operator", "data_points[0].identifier".
type CustomerValueRuleInput struct {
	Rule customervalue.Rule
	// Active sets the status (nil: active for a new rule, unchanged for a
	// replaced one); Rule.Active is ignored.
	Active *bool
	// DataPoints are created with the rule, in the same transaction, before
	// the rule is validated, so its conditions may read them.
	DataPoints []DataPointInput
}

// CustomerValueRuleFilter selects rules; zero fields select all.
type CustomerValueRuleFilter struct {
	Status    string // active or paused
	Lifecycle string // scheduled, running, paused or expired, at Now
	Now       time.Time
	Page
}

// Validate returns every problem with the filter at once.
func (f CustomerValueRuleFilter) Validate() error {
	var p Problems
	if f.Status != "" {
		checkOneOf(&p, "status", f.Status, CustomerValueActive, CustomerValuePaused)
	}
	if f.Lifecycle != "" {
		checkOneOf(&p, "lifecycle", f.Lifecycle, LifecycleScheduled, LifecycleRunning, LifecyclePaused, LifecycleExpired)
	}
	return p.Err()
}

const customerValueRuleColumns = `id, name, status, definition, created_at, updated_at, goals_locked_at`

// CreateCustomerValueRule creates the input's data points and the rule in
// one transaction: the data points first, then the rule, validated against
// every data point with its condition types resolved. Any problem with
// either writes nothing and is reported with all the others. It returns the
// rule and the data points it created.
func (s *Store) CreateCustomerValueRule(ctx context.Context, in CustomerValueRuleInput) (CustomerValueRuleRecord, []DataPoint, error) {
	var out CustomerValueRuleRecord
	var created []DataPoint
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rule := in.Rule
		rule.Active = in.Active == nil || *in.Active
		if err := checkCustomerValueRule(ctx, tx, &rule, in.DataPoints); err != nil {
			return err
		}
		var err error
		if created, err = insertDataPoints(ctx, tx, in.DataPoints); err != nil {
			return err
		}
		def, err := encodeCustomerValueRule(rule)
		if err != nil {
			return err
		}
		out, err = scanCustomerValueRule(tx.QueryRow(ctx, `INSERT INTO customer_value_rules (name, status, definition)
			VALUES ($1, $2, $3) RETURNING `+customerValueRuleColumns, strings.TrimSpace(rule.Name), statusOf(rule.Active), def))
		if err != nil {
			return fmt.Errorf("create customer value rule: %w", err)
		}
		return nil
	})
	if err != nil {
		return CustomerValueRuleRecord{}, nil, err
	}
	return out, created, nil
}

// ReplaceCustomerValueRule replaces a rule's definition, creating the
// input's data points in the same transaction; its id and creation time
// (which order overrides) stay. Once the rule has run its goals and cycle
// settings are locked (CustomerValueRuleRecord.GoalsLocked): changing them
// is a conflict that names them (customervalue.ValidateGoalsChange).
func (s *Store) ReplaceCustomerValueRule(ctx context.Context, id int64, in CustomerValueRuleInput, now time.Time) (CustomerValueRuleRecord, []DataPoint, error) {
	var out CustomerValueRuleRecord
	var created []DataPoint
	err := s.tx(ctx, func(tx pgx.Tx) error {
		old, err := lockCustomerValueRule(ctx, tx, id)
		if err != nil {
			return err
		}
		rule := in.Rule
		rule.Active = old.Active
		if in.Active != nil {
			rule.Active = *in.Active
		}
		if err := checkCustomerValueRule(ctx, tx, &rule, in.DataPoints); err != nil {
			return err
		}
		if err := customervalue.ValidateGoalsChange(old.Rule, rule, old.GoalsLocked(now)); err != nil {
			var fields []string
			for _, fe := range fieldErrors(err) {
				fields = append(fields, "rule."+fe.Field)
			}
			return Conflict("customer value rule %d has run (since %s): %s cannot change once it has, paused or not, because the progress its customers counted was counted under them; create a new rule for new goals",
				id, old.StartsAt.UTC().Format(time.RFC3339), strings.Join(fields, ", "))
		}
		if created, err = insertDataPoints(ctx, tx, in.DataPoints); err != nil {
			return err
		}
		def, err := encodeCustomerValueRule(rule)
		if err != nil {
			return err
		}
		out, err = scanCustomerValueRule(tx.QueryRow(ctx, `UPDATE customer_value_rules
			SET name = $2, status = $3, definition = $4, updated_at = now(), goals_locked_at = coalesce(goals_locked_at, $5)
			WHERE id = $1 RETURNING `+customerValueRuleColumns, id, strings.TrimSpace(rule.Name), statusOf(rule.Active), def, goalsLockTime(old, now)))
		if err != nil {
			return fmt.Errorf("update customer value rule %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return CustomerValueRuleRecord{}, nil, err
	}
	return out, created, nil
}

// PauseCustomerValueRule pauses a rule: it neither counts conversions nor
// pays until resumed. Pausing a paused rule changes nothing. A rule paused
// while running keeps its goals locked.
func (s *Store) PauseCustomerValueRule(ctx context.Context, id int64, now time.Time) (CustomerValueRuleRecord, error) {
	return s.setCustomerValueStatus(ctx, id, CustomerValuePaused, now)
}

// ResumeCustomerValueRule makes a paused rule active again. Resuming an
// active rule changes nothing. A rule whose conditions read an inactive data
// point cannot be resumed (a conflict naming the data points).
func (s *Store) ResumeCustomerValueRule(ctx context.Context, id int64, now time.Time) (CustomerValueRuleRecord, error) {
	return s.setCustomerValueStatus(ctx, id, CustomerValueActive, now)
}

func (s *Store) setCustomerValueStatus(ctx context.Context, id int64, status string, now time.Time) (CustomerValueRuleRecord, error) {
	var out CustomerValueRuleRecord
	err := s.tx(ctx, func(tx pgx.Tx) error {
		old, err := lockCustomerValueRule(ctx, tx, id)
		if err != nil {
			return err
		}
		if old.Status == status {
			out = old
			return nil
		}
		if status == CustomerValueActive {
			dps, err := allDataPoints(ctx, tx, true)
			if err != nil {
				return err
			}
			var inactive []string
			for _, c := range old.Conditions {
				if dp, ok := findDataPoint(dps, c.Source); ok && !isMetric(c.Source) && !dp.Active && !slices.Contains(inactive, dp.Identifier) {
					inactive = append(inactive, dp.Identifier)
				}
			}
			if len(inactive) > 0 {
				return Conflict("customer value rule %d reads inactive data points %s: activate them before resuming the rule", id, strings.Join(inactive, ", "))
			}
		}
		out, err = scanCustomerValueRule(tx.QueryRow(ctx, `UPDATE customer_value_rules
			SET status = $2, updated_at = now(), goals_locked_at = coalesce(goals_locked_at, $3)
			WHERE id = $1 RETURNING `+customerValueRuleColumns, id, status, goalsLockTime(old, now)))
		if err != nil {
			return fmt.Errorf("set status of customer value rule %d: %w", id, err)
		}
		return resolveTypes(ctx, tx, []*customervalue.Rule{&out.Rule})
	})
	if err != nil {
		return CustomerValueRuleRecord{}, err
	}
	return out, nil
}

// CustomerValueRule returns one rule: ID, Name, Active and CreatedAt from
// the table's columns, condition types resolved.
func (s *Store) CustomerValueRule(ctx context.Context, id int64) (customervalue.Rule, error) {
	r, err := s.CustomerValueRuleRecord(ctx, id)
	return r.Rule, err
}

// CustomerValueRuleRecord returns one rule with its status.
func (s *Store) CustomerValueRuleRecord(ctx context.Context, id int64) (CustomerValueRuleRecord, error) {
	r, err := scanCustomerValueRule(s.pool.QueryRow(ctx, `SELECT `+customerValueRuleColumns+` FROM customer_value_rules WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return CustomerValueRuleRecord{}, NotFound("customer value rule", id)
	}
	if err != nil {
		return CustomerValueRuleRecord{}, fmt.Errorf("read customer value rule %d: %w", id, err)
	}
	if err := resolveTypes(ctx, s.pool, []*customervalue.Rule{&r.Rule}); err != nil {
		return CustomerValueRuleRecord{}, err
	}
	return r, nil
}

// ActiveCustomerValueRules lists the rules with status active, in id order:
// those the customer workflows apply (their dates decide the rest).
func (s *Store) ActiveCustomerValueRules(ctx context.Context) ([]customervalue.Rule, error) {
	recs, err := s.CustomerValueRules(ctx, CustomerValueRuleFilter{Status: CustomerValueActive})
	if err != nil {
		return nil, err
	}
	rules := make([]customervalue.Rule, len(recs))
	for i, r := range recs {
		rules[i] = r.Rule
	}
	return rules, nil
}

// Config is what a customer's workflow needs to know of the network's
// configuration when one of its conversions is priced: the configuration
// version (the Customer Value rules it keeps are those of this version), the
// network's time zone, and whether any Customer Value rule is active.
type Config struct {
	Version     int64
	TimeZone    string
	ActiveRules int
}

// Config is the network's configuration version, its time zone (checked:
// an unknown zone is an error, never UTC) and the count of active Customer
// Value rules, as the pricing transaction sees them.
func (p *PricingTx) Config(ctx context.Context) (Config, error) {
	cfg, err := p.config(ctx)
	if err != nil {
		return Config{}, err
	}
	return Config{Version: cfg.version, TimeZone: cfg.timeZone, ActiveRules: cfg.activeRules}, nil
}

// CustomerValueRuleSet reads the active Customer Value rules and the
// configuration version they belong to. The version is read first: rules
// changed in between come with the older version, and are read again at
// the next change of version, never the other way round.
func (s *Store) CustomerValueRuleSet(ctx context.Context) (int64, []customervalue.Rule, error) {
	var version int64
	if err := s.pool.QueryRow(ctx, `SELECT config_version FROM network`).Scan(&version); err != nil {
		return 0, nil, fmt.Errorf("read configuration version: %w", err)
	}
	rules, err := s.ActiveCustomerValueRules(ctx)
	return version, rules, err
}

// PendingLifecycle lists, in the pricing transaction, the lifecycle signals
// of the conversion's customer that its workflow may not have applied yet:
// not delivered, or newer than seen, the latest it has applied. The
// workflow applies them (idempotent, in any order) before the conversion, so
// a reversal made before a conversion is priced counts before it, even
// while its own signal is on the way.
func (p *PricingTx) PendingLifecycle(ctx context.Context, seen int64) ([]LifecycleSignal, error) {
	if p.Conversion.Anonymous() {
		return nil, nil
	}
	rows, err := p.tx.Query(ctx, `SELECT id, conversion_id, workflow_id, advertiser_id, user_id, kind,
			coalesce(refunded_sale, 0), coalesce(refunded_revenue, 0), coalesce(refunded_payout, 0), attempts
		FROM lifecycle_signals WHERE workflow_id = $1 AND (sent_at IS NULL OR id > $2) ORDER BY id`, p.Conversion.WorkflowID, seen)
	if err != nil {
		return nil, fmt.Errorf("read pending lifecycle signals: %w", err)
	}
	sigs, err := pgx.CollectRows(rows, scanLifecycleSignal)
	if err != nil {
		return nil, fmt.Errorf("read pending lifecycle signals: %w", err)
	}
	return sigs, nil
}

// MarkValueEvaluated records that the Customer Value rules have seen these
// priced conversions, so their amounts are final but for retroactive
// re-pricing and end-of-cycle outcomes.
func markValueEvaluated(ctx context.Context, tx pgx.Tx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE conversions SET value_evaluated_at = now() WHERE id = ANY($1) AND value_evaluated_at IS NULL`, ids); err != nil {
		return fmt.Errorf("mark conversions evaluated: %w", err)
	}
	return nil
}

// CustomerValueRules lists rules in id order.
func (s *Store) CustomerValueRules(ctx context.Context, f CustomerValueRuleFilter) ([]CustomerValueRuleRecord, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var out []CustomerValueRuleRecord
	after := f.After
	for {
		rows, err := s.pool.Query(ctx, `SELECT `+customerValueRuleColumns+` FROM customer_value_rules
			WHERE id > $1 AND ($2 = '' OR status = $2) ORDER BY id LIMIT $3`, after, f.Status, f.limit())
		if err != nil {
			return nil, fmt.Errorf("list customer value rules: %w", err)
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CustomerValueRuleRecord, error) { return scanCustomerValueRule(r) })
		if err != nil {
			return nil, fmt.Errorf("list customer value rules: %w", err)
		}
		for _, r := range batch {
			if f.Lifecycle == "" || CustomerValueLifecycle(r.Rule, f.Now) == f.Lifecycle {
				out = append(out, r)
			}
			if f.Limit > 0 && len(out) == f.Limit {
				break
			}
		}
		// Without a lifecycle filter one query answers; with one, fetch on
		// until the page is full or the rules run out.
		if f.Lifecycle == "" || f.Limit <= 0 || len(out) == f.Limit || len(batch) < f.Limit {
			break
		}
		after = batch[len(batch)-1].ID
	}
	ptrs := make([]*customervalue.Rule, len(out))
	for i := range out {
		ptrs[i] = &out[i].Rule
	}
	if err := resolveTypes(ctx, s.pool, ptrs); err != nil {
		return nil, err
	}
	return out, nil
}

// checkCustomerValueRule validates the inline data points and the rule at
// once, reporting every problem named by its path in the input. The rule is
// checked against every data point plus the inline ones, its condition
// types resolved first; its scope must name existing partners, offers and
// advertisers; an active rule may only read active data points. The data
// points are locked against deactivation until the transaction ends.
func checkCustomerValueRule(ctx context.Context, tx pgx.Tx, rule *customervalue.Rule, inline []DataPointInput) error {
	dps, err := allDataPoints(ctx, tx, true)
	if err != nil {
		return err
	}
	var p Problems
	known := slices.Clone(dps)
	for i, in := range inline {
		path := fmt.Sprintf("data_points[%d].", i)
		var ip Problems
		in.check(&ip, path)
		if len(ip) == 0 {
			if dp, ok := findDataPoint(known, in.Identifier); ok {
				if dp.ID != 0 {
					ip.Add(path+"identifier", "%q is taken by data point %d (%s)", in.Identifier, dp.ID, dp.Name)
				} else {
					ip.Add(path+"identifier", "%q is also the identifier of an earlier data point in this request", in.Identifier)
				}
			}
		}
		p = append(p, ip...)
		if len(ip) == 0 {
			// Not stored yet (ID 0), but the rule may read it.
			known = append(known, DataPoint{Name: in.Name, Identifier: in.Identifier, Type: in.Type, Active: true})
		}
	}

	rule.ResolveTypes(definitions(known))
	for _, fe := range fieldErrors(rule.Validate(definitions(known))) {
		p.Add("rule."+fe.Field, "%s", fe.Problem)
	}
	customerValueRuleBounds(&p, "rule.", *rule)
	if rule.AppliesOn == customervalue.AppliesOnEvent {
		checkEventName(&p, "rule.event", rule.Event)
	}
	if rule.Active {
		for i, c := range rule.Conditions {
			if dp, ok := findDataPoint(known, c.Source); ok && !isMetric(c.Source) && !dp.Active {
				p.Add(fmt.Sprintf("rule.conditions[%d].source", i),
					"data point %q is inactive, so postbacks are not read for it: activate it first (or save the rule paused)", c.Source)
			}
		}
	}
	for _, scope := range []struct {
		field, table, what string
		ids                []int64
	}{
		{"rule.partner_ids", "partners", "partner", rule.PartnerIDs},
		{"rule.offer_ids", "offers", "offer", rule.OfferIDs},
		{"rule.advertiser_ids", "advertisers", "advertiser", rule.AdvertiserIDs},
	} {
		positive := slices.DeleteFunc(slices.Clone(scope.ids), func(id int64) bool { return id <= 0 })
		missing, err := missingIDs(ctx, tx, scope.table, positive)
		if err != nil {
			return err
		}
		for i, id := range scope.ids {
			if slices.Contains(missing, id) {
				p.Add(fmt.Sprintf("%s[%d]", scope.field, i), "no %s %d", scope.what, id)
			}
		}
	}
	return p.Err()
}

// insertDataPoints stores the inline data points of a rule, validated.
func insertDataPoints(ctx context.Context, tx pgx.Tx, inline []DataPointInput) ([]DataPoint, error) {
	var created []DataPoint
	for i, in := range inline {
		dp, err := insertDataPoint(ctx, tx, in, fmt.Sprintf("data_points[%d].identifier", i))
		if err != nil {
			return nil, err
		}
		created = append(created, dp)
	}
	return created, nil
}

// lockCustomerValueRule reads a rule for update.
func lockCustomerValueRule(ctx context.Context, tx pgx.Tx, id int64) (CustomerValueRuleRecord, error) {
	r, err := scanCustomerValueRule(tx.QueryRow(ctx, `SELECT `+customerValueRuleColumns+` FROM customer_value_rules WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return CustomerValueRuleRecord{}, NotFound("customer value rule", id)
	}
	if err != nil {
		return CustomerValueRuleRecord{}, fmt.Errorf("read customer value rule %d: %w", id, err)
	}
	if err := resolveTypes(ctx, tx, []*customervalue.Rule{&r.Rule}); err != nil {
		return CustomerValueRuleRecord{}, err
	}
	return r, nil
}

// resolveTypes fills in the condition types of rules stored without them.
// Rules are stored resolved, so this only matters for older definitions.
func resolveTypes(ctx context.Context, q dbtx, rules []*customervalue.Rule) error {
	need := slices.ContainsFunc(rules, func(r *customervalue.Rule) bool {
		return slices.ContainsFunc(r.Conditions, func(c customervalue.Condition) bool { return c.Type == "" && !isMetric(c.Source) })
	})
	if !need {
		return nil
	}
	dps, err := allDataPoints(ctx, q, false)
	if err != nil {
		return err
	}
	defs := definitions(dps)
	for _, r := range rules {
		r.ResolveTypes(defs)
	}
	return nil
}

// encodeCustomerValueRule is the stored definition of a rule. Its id, name,
// status and creation time live in the table's columns and win on reading.
func encodeCustomerValueRule(r customervalue.Rule) ([]byte, error) {
	r.ID, r.CreatedAt = 0, time.Time{}
	def, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode customer value rule: %w", err)
	}
	return def, nil
}

func scanCustomerValueRule(row pgx.Row) (CustomerValueRuleRecord, error) {
	var r CustomerValueRuleRecord
	var def []byte
	var id int64
	var name string
	var created time.Time
	if err := row.Scan(&id, &name, &r.Status, &def, &created, &r.UpdatedAt, &r.goalsLockedAt); err != nil {
		return CustomerValueRuleRecord{}, err
	}
	if err := json.Unmarshal(def, &r.Rule); err != nil {
		return CustomerValueRuleRecord{}, fmt.Errorf("decode customer value rule %d: %w", id, err)
	}
	r.ID, r.Name, r.Active, r.CreatedAt = id, name, r.Status == CustomerValueActive, created.UTC()
	r.UpdatedAt = r.UpdatedAt.UTC()
	return r, nil
}

func statusOf(active bool) string {
	if active {
		return CustomerValueActive
	}
	return CustomerValuePaused
}

// fieldErrors returns the *customervalue.FieldError values of a joined
// error, in order.
func fieldErrors(err error) []*customervalue.FieldError {
	if err == nil {
		return nil
	}
	var out []*customervalue.FieldError
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			out = append(out, fieldErrors(e)...)
		}
		return out
	}
	var fe *customervalue.FieldError
	if errors.As(err, &fe) {
		return []*customervalue.FieldError{fe}
	}
	return []*customervalue.FieldError{{Field: "", Problem: err.Error()}}
}

// isMetric reports whether a condition source is a built-in metric rather
// than a data point.
func isMetric(source string) bool {
	switch source {
	case customervalue.MetricConversionCount, customervalue.MetricEventCount, customervalue.MetricSaleAmount,
		customervalue.MetricRevenue, customervalue.MetricPayout:
		return true
	}
	return false
}
