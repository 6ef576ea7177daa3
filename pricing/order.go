package pricing

import "slices"

// SortByConflictOrder sorts custom settings of one offer event in the
// order Price ranks matching ones (specific partner, then dated, then
// newer, then lower id), so a list can show which setting wins a conflict.
// Settings of two different partners never meet in one conversion.
func SortByConflictOrder(settings []CustomSetting) {
	slices.SortStableFunc(settings, func(a, b CustomSetting) int {
		if _, wins := beats(&a, &b); wins {
			return -1
		}
		if _, wins := beats(&b, &a); wins {
			return 1
		}
		return 0
	})
}

// ConflictRule says by which conflict rule setting a ranks above b, ""
// when it does not.
func ConflictRule(a, b CustomSetting) string {
	if rule, wins := beats(&a, &b); wins {
		return rule
	}
	return ""
}
