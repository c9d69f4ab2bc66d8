#include "proxy/dtab.h"
