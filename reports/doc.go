// Package reports assembles what tierwise reports, for the JSON API and the
// console alike, so no report is computed twice: the conversion report (its
// filters, pages and totals), the Conversion Events Report of one customer,
// the commission-cycle report with each cycle's distance to its next band,
// the console's overview (today's and this month's totals, the pricing
// pipeline, the latest band changes), the explanation of one conversion
// layer by layer in words and numbers, and CSV that a spreadsheet cannot
// mistake for formulas. It reads through store (and, for a customer's
// progress, the customer's workflow) and computes nothing about money
// itself: amounts come from the ledger, decisions from the pricing records
// and the pure cores.
//
// Decisions:
//
//   - Totals are per currency and never add two currencies together; the
//     margin is revenue − payout.
//   - A filter's "to" date is inclusive (the whole day in the network's time
//     zone); an RFC 3339 instant is taken as is, exclusive.
//   - The commission-cycle report pages newest period first with an opaque
//     cursor (the last cycle's period start in microseconds, rule, partner
//     and offer); it is never cut silently.
//   - The Conversion Events Report reads the customer's ledger lines in one
//     query, and the progress from the running workflow's state query, else
//     from its last snapshot.
//   - CSV cells that a spreadsheet would run as a formula (starting with =,
//     +, -, @, a tab or a carriage return) are prefixed with an apostrophe,
//     except plain numbers such as -0.70, which no spreadsheet runs.
package reports
