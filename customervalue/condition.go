package customervalue

import (
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// ConditionResult is one condition evaluated over a group's conversions in a
// cycle: whether it is met and the aggregate it was judged on.
type ConditionResult struct {
	Index       int         `json:"index"` // position in Rule.Conditions
	Source      string      `json:"source"`
	Aggregation Aggregation `json:"aggregation"`
	Operator    Operator    `json:"operator"`
	Met         bool        `json:"met"`
	// Value is the aggregate: the sum, the count, the max or the latest
	// value; for "any", the first value (in processing order) that satisfies
	// the operator. Empty when there is none (HasValue false).
	Value    string `json:"value,omitempty"`
	HasValue bool   `json:"has_value"`
	// Values is how many of the group's conversions in the cycle carried a
	// value for the source.
	Values int `json:"values"`
}

// valueType is the type of what the operator compares: count, sum and max
// are numbers; any and latest have the source's type.
func (c Condition) valueType() DataPointType {
	switch c.Aggregation {
	case AggCount, AggSum, AggMax:
		return TypeNumber
	}
	if isMetric(c.Source) {
		return TypeNumber
	}
	if c.Type != "" {
		return c.Type
	}
	// An untyped condition (not validated): infer from the operator.
	if slices.Contains(textOperators, c.Operator) {
		return TypeText
	}
	return TypeNumber
}

// sourceIsNumber reports whether the source's raw values are numbers.
func (c Condition) sourceIsNumber() bool {
	if isMetric(c.Source) {
		return true
	}
	if c.Type != "" {
		return c.Type == TypeNumber
	}
	// An untyped condition (not validated): sum and max need numbers, count
	// only presence, any and latest follow the operator.
	switch c.Aggregation {
	case AggSum, AggMax:
		return true
	case AggCount:
		return false
	}
	return c.valueType() == TypeNumber
}

// aggregate folds the values of one condition's source, one conversion at a
// time, in processing order.
type aggregate struct {
	cond    *Condition
	number  bool // compares numbers
	operand decimal.Decimal
	badOp   bool // the operand does not parse: never met

	n         int
	sum       decimal.Decimal
	max       decimal.Decimal
	hasMax    bool
	latest    value
	latestAt  time.Time
	latestSeq int64
	hasLatest bool
	anyValue  value
	anyMet    bool
}

// value is one source value of one conversion.
type value struct {
	text string
	num  decimal.Decimal
}

func newAggregate(c *Condition) *aggregate {
	a := &aggregate{cond: c, number: c.valueType() == TypeNumber}
	if a.number && c.Operator != OpBetween {
		d, err := decimal.NewFromString(c.Value)
		if err != nil {
			a.badOp = true
		}
		a.operand = d
	}
	if c.Operator == OpBetween && (c.Min == nil || c.Max == nil) {
		a.badOp = true
	}
	return a
}

// add folds in one conversion.
func (a *aggregate) add(e *Entry) {
	v, ok := sourceValue(a.cond, e)
	if !ok {
		return
	}
	a.n++
	switch a.cond.Aggregation {
	case AggSum:
		a.sum = a.sum.Add(v.num)
	case AggMax:
		if !a.hasMax || v.num.GreaterThan(a.max) {
			a.max, a.hasMax = v.num, true
		}
	case AggLatest:
		// Latest by conversion timestamp; between equal timestamps the one
		// processed later.
		if !a.hasLatest || e.At.After(a.latestAt) || (e.At.Equal(a.latestAt) && e.Seq > a.latestSeq) {
			a.latest, a.latestAt, a.latestSeq, a.hasLatest = v, e.At, e.Seq, true
		}
	case AggAny:
		if !a.anyMet && a.satisfies(v) {
			a.anyMet, a.anyValue = true, v
		}
	}
}

// met reports whether the condition holds over what was added.
func (a *aggregate) met() bool {
	if a.badOp {
		return false
	}
	switch a.cond.Aggregation {
	case AggSum:
		return a.satisfies(value{num: a.sum})
	case AggCount:
		return a.satisfies(value{num: decimal.NewFromInt(int64(a.n))})
	case AggMax:
		return a.hasMax && a.satisfies(value{num: a.max})
	case AggLatest:
		return a.hasLatest && a.satisfies(a.latest)
	case AggAny:
		return a.anyMet
	}
	return false
}

// satisfies applies the operator to one value.
func (a *aggregate) satisfies(v value) bool {
	c := a.cond
	if a.badOp {
		return false
	}
	if a.number {
		switch c.Operator {
		case OpGt:
			return v.num.GreaterThan(a.operand)
		case OpGte:
			return v.num.GreaterThanOrEqual(a.operand)
		case OpLt:
			return v.num.LessThan(a.operand)
		case OpLte:
			return v.num.LessThanOrEqual(a.operand)
		case OpEq:
			return v.num.Equal(a.operand)
		case OpBetween:
			return v.num.GreaterThanOrEqual(*c.Min) && v.num.LessThanOrEqual(*c.Max)
		}
		return false
	}
	switch c.Operator {
	case OpEq:
		return v.text == c.Value
	case OpNe:
		return v.text != c.Value
	case OpIn:
		return slices.Contains(c.Values, v.text)
	}
	return false
}

// result reports the condition's state for explanations and progress.
func (a *aggregate) result(index int) ConditionResult {
	r := ConditionResult{
		Index:       index,
		Source:      a.cond.Source,
		Aggregation: a.cond.Aggregation,
		Operator:    a.cond.Operator,
		Met:         a.met(),
		Values:      a.n,
	}
	switch a.cond.Aggregation {
	case AggSum:
		r.Value, r.HasValue = a.sum.String(), true
	case AggCount:
		r.Value, r.HasValue = strconv.Itoa(a.n), true
	case AggMax:
		if a.hasMax {
			r.Value, r.HasValue = a.max.String(), true
		}
	case AggLatest:
		if a.hasLatest {
			r.Value, r.HasValue = a.latest.String(a.number), true
		}
	case AggAny:
		if a.anyMet {
			r.Value, r.HasValue = a.anyValue.String(a.number), true
		}
	}
	return r
}

func (v value) String(number bool) string {
	if number {
		return v.num.String()
	}
	return v.text
}

// sourceValue returns the value of the condition's source on one
// conversion, and false when the conversion carries none: a data point not
// sent (or sent empty, or not a number for a number data point), an amount
// of 0 (not sent), or the other kind of conversion for the two counts.
func sourceValue(c *Condition, e *Entry) (value, bool) {
	switch c.Source {
	case MetricConversionCount:
		return value{text: "1", num: decimal.NewFromInt(1)}, !e.Event
	case MetricEventCount:
		return value{text: "1", num: decimal.NewFromInt(1)}, e.Event
	case MetricSaleAmount, MetricRevenue, MetricPayout:
		orig, ok := e.amount(c.Source)
		if !ok || orig.IsZero() {
			return value{}, false
		}
		n := e.net(c.Source)
		return value{text: n.String(), num: n}, true
	}
	raw := e.Values[c.Source]
	if raw == "" {
		return value{}, false
	}
	if !c.sourceIsNumber() {
		return value{text: raw}, true
	}
	d, err := decimal.NewFromString(raw)
	if err != nil {
		return value{}, false
	}
	return value{text: raw, num: d}, true
}

// evaluator folds a group's conversions into every condition of a rule.
type evaluator struct {
	aggs []*aggregate
}

func newEvaluator(conds []Condition) *evaluator {
	ev := &evaluator{aggs: make([]*aggregate, len(conds))}
	for i := range conds {
		ev.aggs[i] = newAggregate(&conds[i])
	}
	return ev
}

func (ev *evaluator) add(e *Entry) {
	for _, a := range ev.aggs {
		a.add(e)
	}
}

// allMet reports whether every condition holds (true with no conditions).
func (ev *evaluator) allMet() bool {
	for _, a := range ev.aggs {
		if !a.met() {
			return false
		}
	}
	return true
}

func (ev *evaluator) results() []ConditionResult {
	if len(ev.aggs) == 0 {
		return nil
	}
	out := make([]ConditionResult, len(ev.aggs))
	for i, a := range ev.aggs {
		out[i] = a.result(i)
	}
	return out
}
