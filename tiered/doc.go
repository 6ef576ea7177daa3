// Package tiered is the pure calculation core of Tiered Commissions, layer 4
// of the payout of one conversion (DESIGN.md §5, §8): rules and their
// validation, which rule covers and wins a conversion, period windows in the
// network's time zone, metrics and bands with their high-water mark, the
// tiered payout and revenue lines with their explanation, retroactive
// re-pricing and the conflicts between rules. It has no I/O, no clock and
// no Temporal: the caller passes times, the network's *time.Location, the
// stored metrics and high-water band, and the conversion's layer 1–3
// amounts. Amounts are decimal.Decimal; times are UTC, converted to the
// network's zone only for date and period boundaries. Every type marshals to
// JSON with snake_case keys and amounts as decimal strings.
//
// How the pieces fit, for one approved conversion:
//
//  1. Covering gives every active rule that covers it; each adds the
//     conversion's Arrival to its metrics for the partner × offer × period
//     of PeriodOf (counted whichever rule wins, §13.9).
//  2. Select picks the one rule that adjusts it (Candidates explains why).
//  3. HighWater(stored band, rule.BandAt(metrics)) is the period's band.
//  4. Apply(rule, band, amounts) gives the tiered lines; if the band rose,
//     Reprice(rule, band, earlier conversions) gives the delta lines.
//
// Decisions where DESIGN.md is silent (each pinned by a test):
//
//   - Retro mode: empty means "disabled", the seed's default. Validate
//     accepts it; Rule.RetroMode returns the effective mode.
//   - Validation also requires a non-blank name and positive ids, rejects a
//     percent decrease above 100% (it would always floor at 0), and rejects
//     a bound on a count the rule never counts: event_count in a rule that
//     applies to the base conversion, conversions in a rule for one named
//     event (§13.8 counts over the applies-to set, so such a bound is
//     always 0). An end date equal to the start date is a one-day rule. A
//     bound with only max 0 is allowed (it holds at exactly 0).
//   - Overlap (within a rule, and between rules in Conflicts): two bands
//     overlap when they can hold at once for the same metric values, i.e.
//     every metric both bound has intersecting (min, max] ranges; bands on
//     different metrics always can. Counts are compared as decimals, so
//     (1, 1.5] and (1.2, 3] overlap although no whole count is in both.
//   - Band order: bands are listed lowest first, and Validate enforces it
//     (each band must lie above every earlier one on some metric both
//     bound), because BandAt and the high-water mark compare indexes.
//   - Conflicts use that same test across two rules, as if both saw the
//     same metric values (they do when period and applies-to agree), and
//     report each pair with where they overlap and who wins for whom.
//   - Periods are calendar periods, not cut by the rule's dates; the global
//     period is the rule's window [start date, end of end date), or
//     [start date, FarFuture) without an end date. PeriodKey is the start
//     in UTC as RFC 3339.
//   - Days start at their first local instant: after the gap where DST
//     skips midnight (01:00), at the first of two midnights where DST
//     repeats it.
//   - Event names match exactly (case-sensitive). An AdvertiserID of 0 in
//     Facts matches no advertiser.
//   - Priority: a rule naming the partner, then the newest CreatedAt, then
//     the higher ID (a later-created id wins a tie of timestamps).
//   - Amounts: the layer 1–3 payout and revenue are rounded before use
//     (they are rounded already when they come from the ledger); the sale
//     amount is used as sent. The line is what is rounded (DESIGN §3,
//     §13.21): exact target − layer 1–3 amount, to the currency's minor
//     unit, ties away from zero (pricing.Round), so a 10% decrease of 24.15
//     is a line of −2.42 (target 21.73), not a target of 21.735 rounded up
//     to 21.74 with a line of −2.41. The same holds for a set rate below the
//     layer 1–3 amount. A target below zero floors at zero (the line is
//     then −layer 1–3 amount). A set to a percent of revenue uses the layer
//     1–3 revenue, never a tiered one (§13.4).
//   - What a conversion carries: its explanation's Payout and Revenue lines
//     record the adjustment each amount carries, the band's own or, after a
//     custom re-pricing, the band's retroactive one; an amount that the
//     re-pricing keeps (custom mode without a retro adjustment for it, or
//     an amount an override sets) keeps the adjustment it had
//     (Priced.PayoutAdjustment, RevenueAdjustment). Refunds and manual
//     edits recompute the lines under exactly those (Recompute), never
//     under the band's own adjustment when the conversion carries the
//     retroactive one: CPS 10% at +10%, re-priced in custom mode to a flat
//     +3, then half refunded, is 5.00 + 3.00 = 8.00. A kept line written
//     before adjustments were recorded stays as it is.
//   - Manual edits (DESIGN §14.11): an edit of the layer 1–3 amount
//     recomputes the tiered line at once (Recompute): CPA $10 at +10% is
//     $11.00, edited to $15 it is $16.50, and a flat +3 stays +3. An edit
//     never moves a band or the metrics: they keep the amounts the
//     conversion was counted with. Retroactive re-pricing reads the edited
//     amount (Priced.Amounts), so a later band of +20% gives $18.00.
//   - Reprice re-prices only unpaid conversions below the new band
//     (Priced.Band, -1 for none; nil trusts the caller to have filtered): in
//     custom mode a conversion priced at the band itself keeps the band's
//     own adjustment. Each delta is the target
//     line minus the conversion's current tiered amount, so current values
//     (manual edits, partial refunds) are followed and a second run writes
//     nothing.
//   - Retroactive, enabled mode: earlier conversions are priced exactly as
//     Apply would price them at the new band, so a band that does not adjust
//     an amount brings that amount's tiered line back to 0. Custom mode: a
//     band without a retro adjustment for an amount leaves that amount's
//     tiered line as it is (Line.Keep). Disabled mode or no band: nothing.
//   - A Customer Value override replaces layers 1–4 (DESIGN.md §13.7), so
//     re-pricing keeps an amount an override has set (Priced.PayoutOverridden,
//     RevenueOverridden: Line.Keep with the reason); the other amount is
//     still re-priced. An override written after a re-pricing is computed
//     against the conversion's lines then, retro lines included, so the two
//     orders end at the same amounts.
//   - Metrics are sums as given, never clamped, so a refund followed by the
//     same amounts back restores them; BandAt of a negative metric holds
//     no band with a min (nor one without: min-less bands start at 0). A
//     band without bounds never holds.
//   - Explanations: every decimal in them is in the form its JSON string
//     parses back to, every time in UTC, so a JSON round trip gives a
//     reflect.DeepEqual value. The period, the metrics and the candidate
//     rules are added by the caller (WithPeriod, WithMetrics,
//     WithCandidates).
package tiered
