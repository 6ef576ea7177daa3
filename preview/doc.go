// Package preview answers "what if this rule had been live?": for a draft
// Customer Value or Tiered Commissions rule (unsaved, an edit of a saved
// one, or a paused one as if it were active) it replays stored conversions
// in memory through the pure cores (pricing's rounding, tiered, and
// customervalue) with the draft added, and compares what they would have
// paid with what the ledger holds for the same conversions. It never writes:
// the only I/O is reading the network's rules, its time zone and the
// conversions through store.
//
// # What the preview assumes
//
//   - The conversions are the priced ones whose own timestamp is in the
//     range [From, To), replayed in the order they were priced (priced_at,
//     then id), at most MaxConversions of them (10,000 by default and at
//     most): the first ones in that order; Result.Truncated says when the
//     range held more, and Result.Through how far the replay got.
//   - The replay starts from nothing at From: a tiered period that began
//     before From counts only the conversions from From on, and a
//     customer's Customer Value progress starts with their first conversion
//     in the range. For exact figures choose From at the start of a period
//     (and of the customers' lifetimes, for lifetime goals).
//   - Rules as they are now: every active tiered and Customer Value rule
//     of the network as it is now takes part, for every conversion of the
//     range, whatever was active when the conversion was priced. The draft
//     takes part as if it were active; a draft that starts after From runs
//     from From ("had it been live from From"), one that starts before keeps
//     its start. A new draft is the newest rule (it wins priority as it will
//     once saved); an edited one keeps its saved rule's id and creation
//     time, and replaces it.
//   - Conversions as priced: their layer 1–3 amounts are what the ledger's
//     price lines say (the offer defaults, Partner Tier margins and custom
//     payouts are not recomputed), with the refunds' and manual edits'
//     lines as they stand. The tiered metrics count layer 1–3 amounts net of
//     refunds (never of edits, as live), the tiered line is computed on the
//     current amounts (edits and refunds included), and Customer Value
//     rules see the amounts as priced, each conversion's refunds applied
//     right after it.
//   - Refunds and reversals as they stand: a reversed conversion is left out
//     of the replay (and counted in Result.Reversed); a refunded one counts
//     net of its refunds from the start.
//   - Retroactive re-pricing is done: when a period's band rises, its
//     earlier unpaid conversions priced by that rule are re-priced to the new
//     band at once (tiered.Reprice), as the cycle's workflow does within a
//     second of the rise; conversions paid now stay as they are. A Customer
//     Value override keeps the payout (and the revenue) it sets.
//   - End-of-cycle Customer Value outcomes are settled at the preview's
//     clock (Request.Now), after the whole range is replayed: cycles that
//     ended by then pay, those still running do not.
//
// Two replays run: the rules as they are now (the baseline) and the same
// with the draft. Result compares each with the ledger: Preview − Ledger is
// what the draft world would have paid more or less; Preview − Baseline the
// part of it due to the draft alone. They differ only where the other rules
// changed since the conversions were priced (Result.Drift counts those).
//
// # Bounds
//
// A preview reads at most MaxConversions conversions in one statement and
// keeps them, the customers' states and the commission cycles in memory
// (a few megabytes for 10,000); it checks its context between
// conversions, so a cancelled request or job stops it within one, and
// reports its progress through a callback. Jobs keeps the console's
// previews in memory, per session, for a few minutes.
package preview
