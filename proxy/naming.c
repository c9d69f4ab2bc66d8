#include "proxy/naming.h"
