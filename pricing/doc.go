// Package pricing is the pure calculation core for layers 1–3 of the payout of
// one conversion (DESIGN.md §5): the offer default, the Partner Tier margin and
// the custom payout setting. It has no I/O, no clock and no Temporal: the
// caller passes the conversion's timestamp, the offer's default rates, the
// partner's tier and the candidate custom settings, and gets back the rounded
// payout and revenue with an Explanation of every cent.
//
// Order of work. The revenue is decided first, because the Partner Tier margin
// and PRV are computed on it (§13.4): the postback's revenue if it sent one,
// else the winning custom setting's revenue rate if it sets one, else the
// offer default revenue rate. Then the payout layers run bottom to top:
// offer default, Partner Tier margin, custom payout; each higher one that
// applies replaces the one below.
//
// Decisions where DESIGN.md is silent (each pinned by a test):
//
//   - Postback revenue: "sent" means Input.PostbackRevenue is non-nil. A sent
//     revenue of 0 wins like any other and leaves the conversion with no
//     revenue (so the Partner Tier is skipped).
//   - Custom settings resolve payout and revenue independently (DESIGN
//     §14.9): for each field the winner is the first in the conflict order
//     (specific partner, then dated, then newer CreatedAt, then lower ID)
//     among the matching settings that set that field, so a payout-only
//     setting for the partner and a revenue-only setting for all partners
//     both apply. Without a payout winner the payout comes from layers 1–2,
//     computed on the revenue that won. A setting that sets neither a
//     payout nor a revenue is not a candidate at all. Two settings equal in
//     every rule (same ID twice) keep the one that comes first. The
//     explanation names the setting that decided each field
//     (Step.PayoutSetting, Step.RevenueSetting) and says for every
//     candidate, field by field, why it won or lost.
//   - Refunds re-price under the decisions (Reprice, DESIGN §13.5, §14.4):
//     the record keeps the input narrowed to the winning settings and the
//     explanation's PayoutLayer and RevenueLayer; re-pricing takes each
//     amount from that same layer whatever the new amounts, so a margin on
//     no revenue left pays 0 rather than falling back to the offer
//     default, and a refunded revenue is taken off the revenue of its own
//     layer (never turned into a postback revenue). With rates that are
//     never negative a refund can only lower an amount.
//   - Manual edits and refunds (the ledger's side, DESIGN §14.11): an edit
//     sets the layer 1–3 amount with a manual line on top of this
//     package's amounts; a later refund writes the change Reprice gives
//     (the amounts after the refund minus those before it) on top of the
//     edited amount, floored at 0. A revenue refund may take at most the
//     revenue left, edits included. An edited revenue does not feed the
//     margin or PRV: the payout stays the one its layer computes (an edit of
//     the payout is its own).
//   - Dates: StartsAt is inclusive and EndsAt exclusive, compared as instants
//     (time zones do not matter). A setting whose EndsAt is not after its
//     StartsAt never matches. "Dated" means at least one of the two is set.
//   - Bases: the sale amount is used as sent, unrounded; every computed amount
//     (each revenue, each payout, the postback revenue) is rounded to the
//     currency's minor unit, ties away from zero, and every amount computed
//     from a revenue uses the rounded revenue. Within one rate the fixed and the
//     percent part are added before rounding (one line, one rounding).
//   - Validation: Price checks the inputs it uses and returns every problem at
//     once, each a *FieldError naming the field (errors.Is(err,
//     ErrInvalidInput) holds): Currency must be a three-letter code; SaleAmount
//     and PostbackRevenue must not be negative; both default rates must be
//     valid; a given Tier's Margin must be within 0–100 (active or not); and the
//     winning custom setting's rates must be valid. Settings that do not win
//     are not checked here (the API validates settings when they are saved), so
//     a broken setting for someone else cannot stop this conversion's pricing.
//   - Rates: Type is required and must be known; Amount and Percent must not be
//     negative; a non-zero part the type does not use (a percent on cpa, a
//     fixed amount on cps or prv) is rejected rather than ignored, because a
//     silently ignored number would make the explanation disagree with what
//     the manager typed. Percent has no upper bound (a promotion may pay 150%
//     of revenue); a tier margin does, since a margin is the network's share.
//   - Totals are never negative: all inputs are validated non-negative and the
//     margin is at most 100%, so no layer 1–3 amount can go below zero and no
//     floor is needed here (refunds and decreases happen in later layers).
//   - Currencies: codes are case-insensitive; unknown codes have 2 decimals;
//     ISO 4217's 0-, 3- and 4-decimal currencies are listed in MinorUnits.
//   - Explanation: one Step per layer, always four, in the order offer_default,
//     partner_tier, custom_payout, postback. Every decimal in it is stored in
//     the form its JSON string parses back to and every time is in UTC, so a
//     JSON round trip gives a reflect.DeepEqual value. Custom settings for
//     other partners are left out of the candidate list; those for this
//     partner or all partners are listed with why each won, lost or did not
//     match.
package pricing
