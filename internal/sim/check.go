package sim

import (
	"fmt"
	"sort"
)

// checkFences reports fenced obtains of key whose token is not above that
// of every lease of the key that began before them: inside the model,
// leases do not overlap, so the tokens must rise in the order the leases
// began.
func checkFences(key string, obtains []fenced) []string {
	s := append([]fenced(nil), obtains...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].at < s[j].at })
	var out []string
	for i := 1; i < len(s); i++ {
		if s[i].token <= s[i-1].token {
			out = append(out, fmt.Sprintf("key %s: token %d of %s at %v does not exceed token %d of %s at %v",
				key, s[i].token, s[i].id, s[i].at, s[i-1].token, s[i-1].id, s[i-1].at))
		}
	}
	return out
}
