package customervalue

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// ErrInvalidRule is matched by errors.Is for every problem Validate reports,
// so the HTTP layer can turn it into a 400.
var ErrInvalidRule = errors.New("invalid customer value rule")

// ErrLocked is matched by errors.Is for every change ValidateGoalsChange
// refuses, so the HTTP layer can turn it into a 409.
var ErrLocked = errors.New("customer value rule setting locked once the rule has run")

// FieldError is one problem with one field of a rule. Field is the JSON path
// of the field, such as "conditions[1].operator" or "outcome.payout.base".
type FieldError struct {
	Field   string
	Problem string
	kind    error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Is reports whether target is the error's kind: ErrInvalidRule or
// ErrLocked.
func (e *FieldError) Is(target error) bool { return target == e.kind }

func invalid(field, problem string) error {
	return &FieldError{Field: field, Problem: problem, kind: ErrInvalidRule}
}

// maxDurationDays bounds a window's duration, far inside time.Duration.
const maxDurationDays = 36500

var (
	textOperators   = []Operator{OpEq, OpNe, OpIn}
	numberOperators = []Operator{OpGt, OpGte, OpLt, OpLte, OpEq, OpBetween}
)

// OperatorsFor returns the operators the rule editor offers for a data point
// type ("text" or "number"), in display order; nil for an unknown type. A
// count aggregation is a number whatever the data point's type.
func OperatorsFor(typ string) []string {
	var ops []Operator
	switch DataPointType(typ) {
	case TypeText:
		ops = textOperators
	case TypeNumber:
		ops = numberOperators
	default:
		return nil
	}
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = string(op)
	}
	return out
}

// Validate returns every problem with the rule at once (nil when there is
// none), each a *FieldError naming the field by its JSON path and matching
// ErrInvalidRule. dataPoints are the network's data points; a condition on
// any other identifier is a problem.
func (r Rule) Validate(dataPoints []DataPoint) error {
	var errs []error
	add := func(field, problem string) { errs = append(errs, invalid(field, problem)) }

	if strings.TrimSpace(r.Name) == "" {
		add("name", "is required")
	}
	for _, scope := range []struct {
		field string
		ids   []int64
	}{{"partner_ids", r.PartnerIDs}, {"offer_ids", r.OfferIDs}, {"advertiser_ids", r.AdvertiserIDs}} {
		for i, id := range scope.ids {
			if id <= 0 {
				add(scope.field+"["+strconv.Itoa(i)+"]", itoa(id)+" is not an id")
			}
		}
	}
	switch r.AppliesOn {
	case AppliesOnBase, AppliesOnAll:
		if r.Event != "" {
			add("event", "is only for applies_on \"event\" (applies_on is "+quote(string(r.AppliesOn))+")")
		}
	case AppliesOnEvent:
		if r.Event == "" {
			add("event", "is required when applies_on is \"event\"")
		}
	case "":
		add("applies_on", "is required (one of base, event, all)")
	default:
		add("applies_on", "unknown value "+quote(string(r.AppliesOn))+" (one of base, event, all)")
	}
	if r.StartsAt.IsZero() {
		add("starts_at", "is required")
	}
	if r.EndsAt != nil && !r.EndsAt.After(r.StartsAt) {
		add("ends_at", "ends at "+formatTime(*r.EndsAt)+", not after starts_at "+formatTime(r.StartsAt))
	}

	tf := r.Timeframe
	cycleKnown := true
	switch tf.Cycle {
	case CycleContinuous, CycleDaily, CycleWeekly, CycleMonthly, CycleQuarterly:
	case "":
		cycleKnown = false
		add("timeframe.cycle", "is required (one of continuous, daily, weekly, monthly, quarterly)")
	default:
		cycleKnown = false
		add("timeframe.cycle", "unknown value "+quote(string(tf.Cycle))+" (one of continuous, daily, weekly, monthly, quarterly)")
	}
	switch tf.Anchor {
	case AnchorFirstConversion, AnchorRuleStart:
	case "":
		add("timeframe.anchor", "is required (one of first_conversion, rule_start)")
	default:
		add("timeframe.anchor", "unknown value "+quote(string(tf.Anchor))+" (one of first_conversion, rule_start)")
	}
	switch {
	case tf.DurationDays < 0:
		add("timeframe.duration_days", strconv.Itoa(tf.DurationDays)+" is negative (0 means no duration)")
	case tf.DurationDays > maxDurationDays:
		add("timeframe.duration_days", strconv.Itoa(tf.DurationDays)+" is more than "+strconv.Itoa(maxDurationDays)+" (100 years); use 0 for no duration")
	}

	for i, c := range r.Conditions {
		errs = append(errs, c.problems("conditions["+strconv.Itoa(i)+"].", dataPoints)...)
	}
	switch r.Grouping {
	case GroupAll, GroupOffer, GroupPartner:
	case "":
		add("grouping", "is required (one of all, offer, partner)")
	default:
		add("grouping", "unknown value "+quote(string(r.Grouping))+" (one of all, offer, partner)")
	}

	o := r.Outcome
	switch o.Frequency {
	case OncePerCustomer, OncePerCycle, EveryConversion:
	case "":
		add("outcome.frequency", "is required (one of once_per_customer, once_per_cycle, every_conversion)")
	default:
		add("outcome.frequency", "unknown value "+quote(string(o.Frequency))+" (one of once_per_customer, once_per_cycle, every_conversion)")
	}
	switch o.Trigger {
	case TriggerInstant:
	case TriggerEndOfCycle:
		if o.Kind == KindOverride {
			add("outcome.trigger", "an override replaces the payout of the conversion it applies to, so it must be instant, not end_of_cycle")
		}
		if cycleKnown && tf.Cycle == CycleContinuous && tf.DurationDays <= 0 && r.EndsAt == nil {
			add("outcome.trigger", "end_of_cycle needs a cycle that ends: a continuous cycle without duration_days or ends_at never does")
		}
	case "":
		add("outcome.trigger", "is required (one of instant, end_of_cycle)")
	default:
		add("outcome.trigger", "unknown value "+quote(string(o.Trigger))+" (one of instant, end_of_cycle)")
	}
	switch o.Kind {
	case KindBonus:
		errs = append(errs, o.Payout.problems("outcome.payout.", []RateType{RateFixed, RatePercent})...)
	case KindOverride:
		errs = append(errs, o.Payout.problems("outcome.payout.", []RateType{RateFixed, RateRevShare})...)
	case "":
		add("outcome.kind", "is required (one of bonus, override)")
	default:
		add("outcome.kind", "unknown value "+quote(string(o.Kind))+" (one of bonus, override)")
	}
	if o.RevenueAdjustment != nil {
		errs = append(errs, o.RevenueAdjustment.problems("outcome.revenue_adjustment.", []RateType{RateFixed, RatePercent})...)
	}
	return errors.Join(errs...)
}

// problems returns every problem with one condition; path ends with a dot.
func (c Condition) problems(path string, dataPoints []DataPoint) []error {
	var errs []error
	add := func(field, problem string) { errs = append(errs, invalid(path+field, problem)) }

	// The source's type, when the source is known.
	var srcType DataPointType
	counter := false
	switch {
	case c.Source == "":
		add("source", "is required (a data point identifier or conversion_count, event_count, sale_amount, revenue, payout)")
	case isMetric(c.Source):
		srcType = TypeNumber
		counter = c.Source == MetricConversionCount || c.Source == MetricEventCount
		if c.Type != "" && c.Type != TypeNumber {
			add("type", "is "+quote(string(c.Type))+", but "+c.Source+" is a number")
		}
	default:
		dp, ok := findDataPoint(dataPoints, c.Source)
		if !ok {
			add("source", "unknown data point "+quote(c.Source))
			break
		}
		srcType = dp.Type
		switch {
		case c.Type == "":
			add("type", "is required: data point "+quote(c.Source)+" is "+string(dp.Type))
		case c.Type != dp.Type:
			add("type", "is "+quote(string(c.Type))+", but data point "+quote(c.Source)+" is "+string(dp.Type))
		}
	}

	// The type of the aggregate the operator compares.
	var aggType DataPointType
	switch c.Aggregation {
	case AggCount:
		aggType = TypeNumber
	case AggSum, AggMax:
		aggType = TypeNumber
		if srcType == TypeText {
			add("aggregation", string(c.Aggregation)+" needs a number, but data point "+quote(c.Source)+" is text")
		}
		if counter && c.Aggregation == AggMax {
			add("aggregation", c.Source+" counts conversions: use count or sum")
		}
	case AggAny, AggLatest:
		aggType = srcType
		if counter {
			add("aggregation", c.Source+" counts conversions: use count or sum")
		}
	case "":
		add("aggregation", "is required (one of any, sum, count, max, latest)")
	default:
		add("aggregation", "unknown value "+quote(string(c.Aggregation))+" (one of any, sum, count, max, latest)")
	}

	if c.Operator == "" {
		add("operator", "is required")
		return errs
	}
	if aggType == "" {
		// Without a known type the operator cannot be checked against it;
		// check it is an operator at all.
		if !slices.Contains(textOperators, c.Operator) && !slices.Contains(numberOperators, c.Operator) {
			add("operator", "unknown operator "+quote(string(c.Operator)))
		}
		return errs
	}
	allowed := numberOperators
	if aggType == TypeText {
		allowed = textOperators
	}
	if !slices.Contains(allowed, c.Operator) {
		what := "a number"
		if aggType == TypeText {
			what = "text"
		}
		add("operator", quote(string(c.Operator))+" does not fit "+what+" (one of "+joinOps(allowed)+")")
		return errs
	}

	switch c.Operator {
	case OpIn:
		if len(c.Values) == 0 {
			add("values", "is required for in")
		}
		for i, v := range c.Values {
			if v == "" {
				add("values["+strconv.Itoa(i)+"]", "is empty")
			}
		}
	case OpBetween:
		if c.Min == nil {
			add("min", "is required for between")
		}
		if c.Max == nil {
			add("max", "is required for between")
		}
		if c.Min != nil && c.Max != nil && c.Min.GreaterThan(*c.Max) {
			add("max", c.Max.String()+" is less than min "+c.Min.String())
		}
	default:
		switch {
		case c.Value == "":
			add("value", "is required for "+string(c.Operator))
		case aggType == TypeNumber:
			if _, err := decimal.NewFromString(c.Value); err != nil {
				add("value", quote(c.Value)+" is not a number")
			}
		}
	}
	// Operands the operator does not use are rejected rather than ignored.
	if c.Operator != OpIn && len(c.Values) > 0 {
		add("values", "is only for in")
	}
	if c.Operator != OpBetween && (c.Min != nil || c.Max != nil) {
		add("min", "min and max are only for between")
	}
	if (c.Operator == OpIn || c.Operator == OpBetween) && c.Value != "" {
		add("value", "is not used by "+string(c.Operator))
	}
	return errs
}

// problems returns every problem with a rate; path ends with a dot.
func (r Rate) problems(path string, allowed []RateType) []error {
	var errs []error
	add := func(field, problem string) { errs = append(errs, invalid(path+field, problem)) }
	names := make([]string, len(allowed))
	for i, t := range allowed {
		names[i] = string(t)
	}
	list := strings.Join(names, ", ")
	switch {
	case r.Type == "":
		add("type", "is required (one of "+list+")")
		return errs
	case !slices.Contains(allowed, r.Type):
		why := ""
		switch r.Type {
		case RateRevShare:
			why = "; revshare is for overrides (a bonus takes percent with base sale_amount)"
		case RatePercent:
			why = "; an override takes revshare (percent of the sale amount)"
		}
		add("type", quote(string(r.Type))+" is not allowed here (one of "+list+")"+why)
		return errs
	}
	if r.Amount.IsNegative() {
		add("amount", r.Amount.String()+" is negative")
	} else if r.Type != RateFixed && !r.Amount.IsZero() {
		add("amount", "is "+r.Amount.String()+", but type "+string(r.Type)+" has no fixed amount")
	}
	if r.Percent.IsNegative() {
		add("percent", r.Percent.String()+" is negative")
	} else if r.Type == RateFixed && !r.Percent.IsZero() {
		add("percent", "is "+r.Percent.String()+", but type fixed has no percent")
	}
	switch r.Type {
	case RatePercent:
		switch r.Base {
		case BaseRevenue, BaseSaleAmount:
		case "":
			add("base", "is required for percent (revenue or sale_amount)")
		default:
			add("base", "unknown base "+quote(string(r.Base))+" (revenue or sale_amount)")
		}
	case RateRevShare:
		if r.Base != "" && r.Base != BaseSaleAmount {
			add("base", "revshare is always of the sale amount")
		}
	default:
		if r.Base != "" {
			add("base", "is only for percent")
		}
	}
	return errs
}

// ValidateGoalsChange reports the changes from old to new that are not
// allowed once the rule has run (nil when none, or when locked is false):
// the goals and cycle settings lock once running, paused or not, because progress
// already counted and outcomes already given were computed under them. Each
// problem is a *FieldError matching ErrLocked. Locked: conditions, grouping,
// applies_on and event, starts_at, timeframe (cycle, anchor, duration_days),
// and the outcome's frequency, trigger and kind. Name, status, scope,
// ends_at and the amounts may change.
func ValidateGoalsChange(old, new Rule, locked bool) error {
	if !locked {
		return nil
	}
	var errs []error
	lock := func(field string) {
		errs = append(errs, &FieldError{Field: field, Problem: "is locked once the rule has run", kind: ErrLocked})
	}
	if old.AppliesOn != new.AppliesOn {
		lock("applies_on")
	}
	if old.Event != new.Event {
		lock("event")
	}
	if !old.StartsAt.Equal(new.StartsAt) {
		lock("starts_at")
	}
	if old.Timeframe.Cycle != new.Timeframe.Cycle {
		lock("timeframe.cycle")
	}
	if old.Timeframe.Anchor != new.Timeframe.Anchor {
		lock("timeframe.anchor")
	}
	if old.Timeframe.DurationDays != new.Timeframe.DurationDays {
		lock("timeframe.duration_days")
	}
	if !slices.EqualFunc(old.Conditions, new.Conditions, Condition.equal) {
		lock("conditions")
	}
	if old.Grouping != new.Grouping {
		lock("grouping")
	}
	if old.Outcome.Frequency != new.Outcome.Frequency {
		lock("outcome.frequency")
	}
	if old.Outcome.Trigger != new.Outcome.Trigger {
		lock("outcome.trigger")
	}
	if old.Outcome.Kind != new.Outcome.Kind {
		lock("outcome.kind")
	}
	return errors.Join(errs...)
}

// equal compares two conditions, numbers by value (200 equals 200.00).
func (c Condition) equal(d Condition) bool {
	if c.Source != d.Source || c.Type != d.Type || c.Aggregation != d.Aggregation ||
		c.Operator != d.Operator || !slices.Equal(c.Values, d.Values) ||
		!equalDecPtr(c.Min, d.Min) || !equalDecPtr(c.Max, d.Max) {
		return false
	}
	if c.Value == d.Value {
		return true
	}
	a, errA := decimal.NewFromString(c.Value)
	b, errB := decimal.NewFromString(d.Value)
	return errA == nil && errB == nil && a.Equal(b) && c.valueType() == TypeNumber
}

func equalDecPtr(a, b *decimal.Decimal) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func joinOps(ops []Operator) string {
	names := make([]string, len(ops))
	for i, op := range ops {
		names[i] = string(op)
	}
	return strings.Join(names, ", ")
}

func quote(s string) string { return strconv.Quote(s) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
