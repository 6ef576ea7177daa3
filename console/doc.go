// Package console is the affiliate manager's console: the web interface in
// which a manager sets up the network (advertisers, offers, partners,
// Partner Tiers, custom payouts), reads the reports (the conversion report,
// the Conversion Events Report, the commission cycles, payout runs) and sees
// why every conversion pays what it pays. The API mounts it at Path.
//
// It is a client of the same domain services as the JSON API (store,
// reports, lifecycle) and never of the database: handlers read a form into
// the store's input types, call those services and render the result with
// html/template. Its templates and assets are embedded; htmx is vendored in
// assets/vendor and every page also works without JavaScript.
//
// Decisions:
//
//   - Sessions: signing in with an admin key starts a session stored in
//     PostgreSQL (the cookie holds a random secret, the table its hash), so
//     any API process serves it and a sign-out or a revoked key ends it
//     everywhere at once. Cookies are HttpOnly, SameSite=Strict, limited to
//     Path, and Secure over TLS. Sessions last DefaultSessionTTL.
//   - CSRF: every state-changing request carries the session's token (a
//     form field, or X-CSRF-Token from htmx) and is refused with 403 when
//     the token is missing or wrong or the browser says the request is
//     cross-site. The sign-in form carries a token of its own, from a
//     cookie, so a sign-in cannot be posted from another site.
//   - Forms use the API's field names, so the store's problems show next to
//     the input they name; a refused form answers 400 with what was typed.
//     A secret (a postback token, an API key) is shown once, in the answer
//     to the form that made it, and never again.
//   - Lists page with cursors, 50 rows a page; the choices of a filter or a
//     picker list up to 500 entries (advertisers, offers, partners, tiers).
//   - The rule builders' forms post their draft on every change (hx-post
//     on the form) and swap one part (the summary, the worked example and
//     conflicts); they pass none of hx-select, hx-target and hx-swap on to
//     the buttons and panels inside them, and console.js keeps such a form's
//     own address while a button with a formaction (Preview) has the focus.
//     The Customer Value builder's tabs show one panel at a time with
//     JavaScript, every panel without.
//   - Partner sessions (the partner portal, portal.go) are sessions of
//     their own kind, signed in with a partner key, in a cookie of their
//     own limited to PortalPath: a partner session never opens an admin
//     page and an admin session never opens the portal.
package console
