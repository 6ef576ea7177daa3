package api

import (
	"testing"

	"github.com/tierwise/tierwise/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
