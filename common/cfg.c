#include "common/cfg.h"
