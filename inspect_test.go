package quorumlock

import (
	"context"
	"testing"
	"time"

	"github.com/quorumlock/quorumlock/internal/nodeset"
)

func TestInspect(t *testing.T) {
	nodes := nodeset.Mini(t, 5)
	l := newTestLocker(t, nodes, WithFencing(), WithOwner("billing-7"))
	ctx := context.Background()
	st, err := l.Inspect(ctx, "k")
	if err != nil || st.Held || st.Reachable != 5 {
		t.Fatalf("free key: %+v, %v", st, err)
	}
	lock, err := l.ObtainContext(ctx, "k", 10*time.Second, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	settle(l)
	nodes.Set(4, nodeset.Hung, "", 0)
	began := time.Now()
	st, err = l.Inspect(ctx, "k")
	within(t, began, "inspect")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Held || st.Owner != "billing-7" || st.Holder != lock.value || st.Reachable != 4 || st.Fence != lock.Fence() {
		t.Fatalf("held key: %+v", st)
	}
	if st.Validity <= 9*time.Second || st.Validity > 10*time.Second {
		t.Fatalf("validity %v", st.Validity)
	}
	if st.Nodes[4].Err == nil || st.Nodes[0].Holder != lock.value || st.Nodes[0].Remaining <= 9*time.Second {
		t.Fatalf("per node: %+v", st.Nodes)
	}
	nodes.Reset()
}
