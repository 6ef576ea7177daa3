package tiered

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// ErrInvalidRule is matched by errors.Is for every validation error of this
// package, so the HTTP layer can turn it into a 400.
var ErrInvalidRule = errors.New("invalid tiered commission rule")

// FieldError is one problem with one field of a rule.
type FieldError struct {
	// Field is the path of the field as it is spelt in JSON, such as
	// "start_date" or "bands[1].bounds[0].min".
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Is reports whether target is ErrInvalidRule.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidRule }

// Validate returns every problem with the rule at once (nil when there is
// none), joined; each is a *FieldError naming the field, and errors.Is(err,
// ErrInvalidRule) holds. See Problems for the list.
func (r Rule) Validate() error {
	problems := r.Problems()
	if len(problems) == 0 {
		return nil
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// Problems returns every problem with the rule, in field order: a blank
// name; an empty scope, or an id that is not positive; an unknown
// applies_to, or an event given without or missing with applies_to
// "event"; a missing or malformed start_date, a malformed end_date or one
// before the start date; an unknown period or retro_mode; no band; and for
// each band: no bound, an unknown or repeated metric, a negative min or
// max, a min not below its max, a bound on a count the rule never counts
// (event_count when it applies to the base conversion, conversions when it
// applies to one event), an invalid adjustment, a retro adjustment outside
// the custom mode, and an overlap with an earlier band (two bands overlap
// when they can hold at once: every metric both bound has intersecting
// ranges, which includes bands bounding different metrics) or a band below
// an earlier one (bands are ordered lowest first: a later band must lie above
// each earlier one on some metric both bound, because the high-water mark
// compares band indexes). The custom mode needs a retro adjustment in at
// least one band.
func (r Rule) Problems() []*FieldError {
	var p problems
	if strings.TrimSpace(r.Name) == "" {
		p.add("name", "is required")
	}
	if len(r.OfferIDs) == 0 && len(r.AdvertiserIDs) == 0 {
		p.add("offer_ids", "the scope is empty: list offers in offer_ids or advertisers in advertiser_ids")
	}
	p.ids("offer_ids", r.OfferIDs)
	p.ids("advertiser_ids", r.AdvertiserIDs)
	p.ids("partner_ids", r.PartnerIDs)

	switch r.AppliesTo {
	case AppliesToBase, AppliesToAll:
		if r.Event != "" {
			p.add("event", "must be empty unless applies_to is \"event\" (applies_to is "+strconv.Quote(string(r.AppliesTo))+")")
		}
	case AppliesToEvent:
		if strings.TrimSpace(r.Event) == "" {
			p.add("event", "is required when applies_to is \"event\"")
		}
	case "":
		p.add("applies_to", "is required (one of base, event, all)")
	default:
		p.add("applies_to", "unknown value "+strconv.Quote(string(r.AppliesTo))+" (one of base, event, all)")
	}

	p.dates(r.StartDate, r.EndDate)

	switch r.Period {
	case PeriodDaily, PeriodWeekly, PeriodMonthly, PeriodQuarterly, PeriodGlobal:
	case "":
		p.add("period", "is required (one of daily, weekly, monthly, quarterly, global)")
	default:
		p.add("period", "unknown period "+strconv.Quote(string(r.Period))+" (one of daily, weekly, monthly, quarterly, global)")
	}

	mode := r.RetroMode()
	switch mode {
	case RetroDisabled, RetroEnabled, RetroCustom:
	default:
		p.add("retro_mode", "unknown mode "+strconv.Quote(string(r.Retro))+" (one of disabled, enabled, custom)")
	}

	if len(r.Bands) == 0 {
		p.add("bands", "a rule needs at least one band")
	}
	valid := make([]bool, len(r.Bands)) // bands whose bounds are each valid
	hasRetro := false
	for i := range r.Bands {
		b := &r.Bands[i]
		path := "bands[" + strconv.Itoa(i) + "]"
		valid[i] = p.bounds(path, b.Bounds, r.AppliesTo)
		p.adjustment(path+".payout", b.Payout)
		p.adjustment(path+".revenue", b.Revenue)
		for _, retro := range []struct {
			field string
			adj   *Adjustment
		}{{"retro_payout", b.RetroPayout}, {"retro_revenue", b.RetroRevenue}} {
			if retro.adj == nil {
				continue
			}
			hasRetro = true
			if mode != RetroCustom {
				p.add(path+"."+retro.field, "is only for retro_mode \"custom\" (retro_mode is "+strconv.Quote(string(mode))+")")
				continue
			}
			p.adjustment(path+"."+retro.field, retro.adj)
		}
		if !valid[i] {
			continue
		}
		for j := 0; j < i; j++ {
			if !valid[j] {
				continue
			}
			if witness, overlap := bandsOverlap(&r.Bands[j], b); overlap {
				p.add(path, bandRef(i, b.Name)+" overlaps "+bandRef(j, r.Bands[j].Name)+": both hold when "+witness)
			} else if !bandAbove(&r.Bands[j], b) {
				p.add(path, bandRef(i, b.Name)+" is below "+bandRef(j, r.Bands[j].Name)+": bands are ordered lowest first (a period keeps the highest band it reached)")
			}
		}
	}
	if mode == RetroCustom && !hasRetro {
		p.add("retro_mode", "\"custom\" needs a retro_payout or retro_revenue in at least one band")
	}
	return p
}

type problems []*FieldError

func (p *problems) add(field, problem string) {
	*p = append(*p, &FieldError{Field: field, Problem: problem})
}

func (p *problems) ids(field string, ids []int64) {
	for i, id := range ids {
		if id <= 0 {
			p.add(field+"["+strconv.Itoa(i)+"]", strconv.FormatInt(id, 10)+" is not a valid id")
		}
	}
}

func (p *problems) dates(startDate, endDate string) {
	var start, end time.Time
	var err error
	switch {
	case startDate == "":
		p.add("start_date", "is required (YYYY-MM-DD)")
	default:
		if start, err = time.Parse(DateLayout, startDate); err != nil {
			p.add("start_date", strconv.Quote(startDate)+" is not a date (YYYY-MM-DD)")
		}
	}
	if endDate == "" {
		return
	}
	if end, err = time.Parse(DateLayout, endDate); err != nil {
		p.add("end_date", strconv.Quote(endDate)+" is not a date (YYYY-MM-DD)")
		return
	}
	switch {
	case !start.IsZero() && end.Before(start):
		p.add("end_date", endDate+" is before start_date "+startDate)
	case !end.Before(FarFuture):
		p.add("end_date", endDate+" is too far ahead; leave end_date empty for a rule that never ends")
	}
}

// bounds checks a band's bounds and reports whether each is valid (so the
// band can be compared with the others).
func (p *problems) bounds(path string, bounds []Bound, appliesTo AppliesTo) bool {
	if len(bounds) == 0 {
		p.add(path+".bounds", "a band needs at least one bound")
		return false
	}
	ok := true
	seen := make(map[Metric]int, len(bounds))
	for i, b := range bounds {
		bp := path + ".bounds[" + strconv.Itoa(i) + "]"
		switch b.Metric {
		case MetricConversions, MetricEventCount, MetricSaleAmount, MetricRevenue, MetricPayout:
			if j, dup := seen[b.Metric]; dup {
				p.add(bp+".metric", string(b.Metric)+" is already bounded by bounds["+strconv.Itoa(j)+"]; give one bound per metric")
				ok = false
			} else {
				seen[b.Metric] = i
			}
			if b.Metric == MetricEventCount && appliesTo == AppliesToBase {
				p.add(bp+".metric", "event_count counts named events, but the rule applies to the base conversion only")
				ok = false
			}
			if b.Metric == MetricConversions && appliesTo == AppliesToEvent {
				p.add(bp+".metric", "conversions counts base conversions, but the rule applies to one named event only (use event_count)")
				ok = false
			}
		case "":
			p.add(bp+".metric", "is required (one of "+metricList()+")")
			ok = false
		default:
			p.add(bp+".metric", "unknown metric "+strconv.Quote(string(b.Metric))+" (one of "+metricList()+")")
			ok = false
		}
		if b.Min != nil && b.Min.IsNegative() {
			p.add(bp+".min", b.Min.String()+" is negative")
			ok = false
		}
		if b.Max != nil && b.Max.IsNegative() {
			p.add(bp+".max", b.Max.String()+" is negative")
			ok = false
		}
		if b.Min != nil && b.Max != nil && !b.Min.LessThan(*b.Max) {
			p.add(bp+".min", b.Min.String()+" is not below max "+b.Max.String()+" (the band holds for min < value ≤ max)")
			ok = false
		}
	}
	return ok
}

var hundred = decimal.NewFromInt(100)

func (p *problems) adjustment(path string, a *Adjustment) {
	if a == nil {
		return
	}
	switch a.Action {
	case ActionIncrease, ActionDecrease:
		switch a.By {
		case ByPercent, ByFlat:
		case "":
			p.add(path+".by", "is required for "+a.Action+" (percent or flat)")
		default:
			p.add(path+".by", "unknown value "+strconv.Quote(a.By)+" (percent or flat)")
		}
		if a.Rate != "" {
			p.add(path+".rate", "is only for action \"set\"; "+a.Action+" takes by")
		}
		if a.Action == ActionDecrease && a.By == ByPercent && a.Value.GreaterThan(hundred) {
			p.add(path+".value", "a decrease of "+a.Value.String()+"% is more than 100%")
		}
	case ActionSet:
		switch a.Rate {
		case RateFixed, RateSalePercent, RateRevenuePercent:
		case "":
			p.add(path+".rate", "is required for set (fixed, sale_percent or revenue_percent)")
		default:
			p.add(path+".rate", "unknown rate "+strconv.Quote(a.Rate)+" (fixed, sale_percent or revenue_percent)")
		}
		if a.By != "" {
			p.add(path+".by", "is only for increase and decrease; set takes rate")
		}
	case "":
		p.add(path+".action", "is required (increase, decrease or set)")
	default:
		p.add(path+".action", "unknown action "+strconv.Quote(a.Action)+" (increase, decrease or set)")
	}
	if a.Value.IsNegative() {
		p.add(path+".value", a.Value.String()+" is negative")
	}
}

func metricList() string {
	names := make([]string, len(metrics))
	for i, m := range metrics {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}
