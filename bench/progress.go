package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// IsTerminal reports whether w is a terminal, where progress redraws one
// line instead of printing one line per second.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress prints, once a second while the load runs, the send and accept
// rates, the accept latency and the pricing lag of the last second, and
// the backlog (accepted, not yet priced).
type progress struct {
	out      io.Writer
	terminal bool
	rec      *recorder
	db       *db
	start    time.Time
	total    time.Duration
}

func (p *progress) run(ctx context.Context, done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Now()
	var lastSent, lastPriced int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			if p.terminal {
				fmt.Fprintln(p.out)
			}
			return
		case now := <-t.C:
			secs := now.Sub(last).Seconds()
			last = now
			window, newAccepted := p.rec.tick()
			sent := p.rec.sent.Load()
			priced, lag, err := p.db.pricingNow(ctx)
			if err != nil {
				continue
			}
			p99 := percentiles(window, 99)[0]
			elapsed := now.Sub(p.start).Truncate(time.Second)
			line := fmt.Sprintf("%3.0fs/%.0fs  sent %5.0f/s  accepted %5.0f/s  accept p99 %6sms  priced %5.0f/s  pricing lag p99 %7sms  backlog %d",
				elapsed.Seconds(), p.total.Seconds(), float64(sent-lastSent)/secs, float64(len(window))/secs, ms(p99),
				float64(priced-lastPriced)/secs, ms(lag), max(newAccepted-priced, 0))
			lastSent, lastPriced = sent, priced
			if p.terminal {
				fmt.Fprintf(p.out, "\r\033[K%s %s", bar(elapsed, p.total, 20), line)
			} else {
				fmt.Fprintln(p.out, line)
			}
		}
	}
}

// bar draws [=====>    ] for done of total.
func bar(done, total time.Duration, width int) string {
	n := 0
	if total > 0 {
		n = min(width, int(float64(width)*float64(done)/float64(total)))
	}
	head := ""
	if n < width {
		head = ">"
	}
	return "[" + strings.Repeat("=", n) + head + strings.Repeat(" ", max(width-n-len(head), 0)) + "]"
}
