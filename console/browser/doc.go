// Package browser holds the console's tests in a real browser: Debian's
// Chromium driven with chromedp against the whole stack (a real PostgreSQL,
// an embedded Temporal server, the worker, the API and the console), as an
// affiliate manager uses it. The tests live in this package alone so that
// only it and e2e link the Temporal server.
//
// The tests need Chromium at /usr/bin/chromium (TIERWISE_CHROMIUM names
// another binary; .ci/run installs Debian's package when it is missing).
// Each test saves a screenshot of the page it ends on: into the directory
// TIERWISE_SCREENSHOTS names (the README's come from
// TIERWISE_SCREENSHOTS=$PWD/docs/screenshots), else into the test's
// temporary directory; a failing step saves one next to the failure and
// logs where.
package browser
