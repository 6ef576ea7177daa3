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
//     lines as they stand. The tiered metrics count each conversion's
//     layer 1–3 amounts as priced, and each refund takes its part off when
//     it was made (never an edit, as live); the tiered line is computed on
//     the current amounts, edits and refunds included (what its
//     recomputation after each refund or edit comes to under the adjustment
//     it carries); Customer Value rules see the amounts as priced.
//   - Refunds and reversals when they were made: each refund (refunds'
//     created_at) and each reversal (the time of its reversal lines, which
//     a rejection after pricing writes too) is replayed between the
//     conversions priced before and after it. A reversal takes the
//     conversion out of every cycle's metrics, which keep their band, and
//     out of its customer's cycles, re-arming an outcome it got for the
//     customer's next conversion; a refund lowers the metrics' sums and the
//     customer's cycle totals, and leaves an outcome already given alone.
//     A reversed conversion pays nothing in either replay and is left out
//     of the totals (Result.Reversed counts it). A reversal with no line
//     and no signal (nothing to reverse, no customer) is taken right after
//     its pricing.
//   - Retroactive re-pricing is done: when a period's band rises, its
//     earlier conversions priced by that rule are re-priced to the new band
//     at once (tiered.Reprice), as the cycle's workflow does within a
//     second of the rise, but not those reversed or paid by then (a payout
//     run's time is when their first payout line was paid). A Customer
//     Value override keeps the payout (and the revenue) it sets.
//   - The customers' workflows wake up as live: before each conversion,
//     refund or reversal of a customer, its cycles whose end passed are
//     settled (customervalue.State.Due) at the time its workflow's timer
//     fired, the cycle's end or, when that had passed already, the time of
//     the customer's previous conversion, refund or reversal; after the
//     whole range, those due at the preview's clock (Request.Now). So
//     end-of-cycle outcomes are paid when the cycle ended, and a cycle that
//     ended more than customervalue.ClosedCycleRetention before the
//     workflow settled it is dropped, and a late conversion into it counts
//     for nothing, as live.
//
// # What it cannot predict
//
// It equals what going live from From would have written, to the cent,
// but for these cases, which it reports or leaves to the caller:
//
//   - Rules changed since the conversions were priced, and tiered periods
//     or customers' lifetimes that began before From: the baseline replay
//     differs from the ledger, and Result.Drift says by how much.
//   - A draft that reads a data point that did not exist, or was not
//     active, when a conversion arrived: a postback keeps only the active
//     data points' values, so the replay sees none for it.
//   - Layers 1–3 of the draft world: they are the ledger's, so a draft
//     never changes a Partner Tier or custom payout decision.
//   - Timing finer than the stored times: the live paths re-price a cycle
//     and tell a customer's workflow of a refund within a second; a refund,
//     reversal or payout run within that second of a band's rise, or a
//     workflow that was down when a cycle ended, may have gone the other
//     way live.
//   - Conversions beyond MaxConversions (Result.Truncated): the replayed
//     ones miss what those would have done to them (a band they raise
//     re-prices earlier conversions, a goal they complete at the end of a
//     cycle pays an earlier one).
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
