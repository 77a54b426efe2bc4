package main

import (
	"bytes"
	"testing"
)

// The seed's output, lines for lines, except the last line of the third
// example: the seed prints 5 there, but its code refreshes the lock to 2s.
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
