package main

import (
	"bytes"
	"testing"
)

// The output of the single-node Locker's documented examples, line for
// line, with the third example's Refresh shown: the lock is refreshed to
// 2s, so it will expire in 2 (the documentation says 5 there).
const seedOutput = `GETTING LOCK A
GETTING LOCK B
GOT LOCK A
UNABLE TO GET LOCK B
RELEASING LOCK A
GETTING LOCK A
GETTING LOCK B
GOT LOCK A
RELEASING LOCK A
GOT LOCK B
RELEASING LOCK B
GOT LOCK FOR 5 SECONDS
WILL EXPIRE IN 4 SECONDS
WILL EXPIRE IN 3 SECONDS
REFRESHED LOCK FOR 2 SECONDS
WILL EXPIRE IN 2 SECONDS
`

func TestDemoPrintsTheSeedOutput(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if status := run([]string{"demo"}, &out, &errOut); status != exitOK {
		t.Fatalf("status %d, stderr %s", status, errOut.String())
	}
	if out.String() != seedOutput {
		t.Fatalf("demo printed:\n%s\nwant:\n%s", out.String(), seedOutput)
	}
}
