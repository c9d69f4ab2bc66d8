#include "tests/lib/harness.h"
