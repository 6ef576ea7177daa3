// Package customervalue is the pure calculation core of Customer Value rules,
// layer 5 of the payout of a conversion (DESIGN.md §5, §7): bonuses and
// payout overrides driven by one customer's combined activity across events,
// offers and partners. It has no I/O, no clock, no Temporal and no database:
// the customer's workflow owns a State, feeds it each approved conversion in
// processing order (Apply), reversals (Reverse) and partial refunds
// (Refund), wakes at NextWakeUp to call Due with its own clock, and writes
// the Outcomes it gets back as ledger lines (their Key makes that
// idempotent). Progress feeds the Conversion Events Report.
//
// Everything is deterministic: rules are processed by id, every list in the
// State is kept sorted, maps are only looked up, never ranged over into a
// result. Money is decimal.Decimal, rounded to the currency's minor unit
// with pricing.Round (ties away from zero). Times are UTC; the network's
// *time.Location (nil means UTC) is used only for calendar cycle
// boundaries. Every exported type marshals to JSON with snake_case keys and
// amounts as decimal strings.
//
// # How a conversion is judged
//
// A rule sees a conversion when the rule is active, the conversion is in its
// scope (partners, offers, advertisers; each empty list means all) and
// applies-on (base, one named event, or all), and its timestamp is in the
// rule's window for this customer. The window is [anchor, anchor + N × 24 h)
// cut by the rule's StartsAt (inclusive) and EndsAt (exclusive); without a
// duration it is the rule's dates. The anchor is the rule's start, or the
// customer's earliest approved conversion in the rule's scope, also one
// before the rule's start (§13.17). The conversion then lands in its cycle
// (the window itself for a continuous rule, else the calendar period of its
// own timestamp in the network zone, cut by the window) and in its scope
// group ("all", "offer:<id>", "partner:<id>"). All conditions must hold over
// the group's conversions in that cycle (§13.20 for the aggregations).
//
// Instant outcomes fire on the conversion after which all conditions hold:
// every such conversion for every_conversion; for the once frequencies the
// first such conversion while the outcome is not spent in the group (once
// per customer) or the group's cycle (once per cycle), §13.15. End-of-cycle
// outcomes are given by Due once the cycle has ended.
//
// # Decisions where DESIGN.md is silent (each pinned by a test)
//
//   - Condition types. Condition.Type carries the data point's type (data
//     point types are immutable, so storing it with the rule is safe);
//     evaluation needs it to tell a text "eq" (exact, case-sensitive) from a
//     number "eq" (200 equals 200.00). Rule.ResolveTypes fills it; Validate
//     requires it for data points. Built-in metrics are numbers and win over
//     a data point of the same identifier.
//   - Values. A data point sent empty, or not a number for a number data
//     point, counts as not sent. A built-in amount of 0 counts as not sent
//     (for any, max, latest and count; it adds nothing to a sum), as in the
//     pricing package where 0 means the postback sent no sale amount.
//     conversion_count and event_count take count or sum (both count).
//     "count" counts the conversions carrying a value, whatever its type, so
//     its operators are the number operators. "any" reports the first value
//     in processing order that satisfies the operator. "latest" ties on the
//     timestamp go to the conversion processed later.
//   - Qualifying conversions. For every_conversion, a conversion qualifies
//     when all conditions hold after it is counted, whether or not its own
//     values contributed. With an end_of_cycle trigger the goal is judged on
//     the whole cycle at its end: once per customer/cycle pays the
//     conversion from which the conditions held through the end (the first
//     one for monotonic goals; the first surviving conversion when there are
//     no conditions); every_conversion pays each surviving conversion of a
//     cycle whose goal is met, of its own amount net of refunds, each once.
//   - Overrides. An override applies to every conversion after which its
//     conditions hold (with once frequencies, to the first such one); it is
//     instant only. Between matching overrides the one naming the partner
//     (non-empty PartnerIDs) wins, then the newer CreatedAt, then the higher
//     id; the losers are listed in the winner's explanation and are not
//     spent. Revshare is of the conversion's current sale amount; without
//     one it pays 0 and the explanation says so. A fixed override of 0 is
//     allowed (it pays nothing for these customers). Outcome.Payout is the
//     target rounded to the currency's minor unit, ties away from zero, and
//     the conversion's payout is exactly that: the ledger's override line is
//     it minus layers 1–4, a difference of rounded amounts (§13.21), as
//     retroactive lines are. 10% of 241.45 over a $30.00 payout is 24.145,
//     paid 24.15 with a line of −5.85. (A tiered line, an adjustment on top
//     of layers 1–3 rather than a target, is rounded as a line.)
//     A manual edit under an override leaves the override deciding.
//   - Revenue adjustment. For a bonus it is an extra revenue amount on the
//     bonus line (a percent of the same base as a percent bonus); for an
//     override it is the conversion's revenue target (a percent of the
//     conversion's own amount).
//   - Currencies. A rule's fixed amounts are in the currency of the
//     conversion that gets the line. A percent of a cycle total adds up only
//     the conversions in that conversion's currency and the explanation
//     counts the ones left out: currencies are never mixed.
//   - Refunds and reversals. Refund takes the totals so far: the sale
//     amount refunded and what the refunds took off the layer 1–3 revenue
//     and payout (a refunded sale lowers a revenue share: a $10 refund of a
//     $60 deposit earning 20% takes $2 off its $12 revenue), so a repeated
//     refund changes nothing and every amount the state keeps (sale,
//     revenue, payout) is net of refunds, the goal and a percent of the
//     cycle alike; counts are unchanged, nothing goes below 0. Neither a
//     refund nor a reversal fires an outcome,
//     even when it makes a goal hold (a "less than" condition); the next
//     conversion does. A reversal removes the conversion from every cycle and
//     re-arms any once outcome it got; for an end-of-cycle outcome of a cycle
//     that is over, only a conversion backdated into that cycle can fire it
//     again.
//   - Paused and unknown rules. A rule with Active false neither counts
//     conversions nor pays; Due settles its ended cycles without outcomes.
//     The anchor history (State.Firsts) is kept for every conversion, so a
//     rule created or resumed later anchors on the customer's real first
//     conversion.
//   - Late conversions. A conversion into a cycle that has ended (even one
//     Due settled without paying) is counted in that cycle like a live
//     arrival (§13.19): instant outcomes fire at once, and the cycle is
//     reopened so the next Due settles it again (NextWakeUp then returns
//     its past end, and the workflow waits on that end again: two late $30
//     deposits into a week whose goal is $50 pay the bonus on the second
//     when it arrives). Once outcomes already spent are not paid twice.
//   - End of cycle with every_conversion (§14.13): when the goal holds at
//     the end, every surviving conversion of the cycle qualifies, also
//     those before the completing one, each on its own amount. Due drops cycles
//     ClosedCycleRetention (90 days) after their end; a conversion into a
//     dropped cycle does not count.
//   - Idempotency. Applying a conversion again counts nothing twice and
//     spends nothing twice; an outcome given again (by a rule that keeps no
//     conversions, so cannot tell) has the same Key. Keys are "customer_value/<rule>/<group>/<cycle>/<frequency>/<conversion>"
//     for bonuses and "customer_value/<rule>/override/<conversion>" for
//     overrides: a re-armed outcome given to another conversion gets a new
//     key, the same outcome computed again the same key.
//   - Boundedness. A cycle keeps per conversion only the ids, timestamp,
//     partner, currency, sale amount and revenue, the payout when a
//     condition reads it, and the data points the conditions read; rules
//     without conditions, end-of-cycle trigger or percent once-bonus keep no
//     conversions at all. Settled cycles are dropped after the retention. A
//     continuous rule with conditions keeps its conversions for the
//     customer's lifetime (its goal spans it).
//   - Validation. Validate reports every problem at once as *FieldError
//     values named by JSON path and matching ErrInvalidRule: unknown values,
//     an operator that does not fit the aggregate's type, sum or max of a
//     text data point, an unknown data point, end_of_cycle on a continuous
//     cycle with no duration and no end date, an override at end_of_cycle, a
//     percent bonus without a base, revshare on a bonus or percent on an
//     override, negative amounts, operands the operator does not use, ends
//     before it starts. ValidateGoalsChange locks, once the rule has run
//     (the store remembers it across pauses), the
//     conditions, grouping, applies-on and event, starts_at, the timeframe
//     and the outcome's frequency, trigger and kind (ErrLocked).
package customervalue
