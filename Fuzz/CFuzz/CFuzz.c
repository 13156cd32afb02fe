// Declarations only: see include/CFuzz.h.
