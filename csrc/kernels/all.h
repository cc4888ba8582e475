/* kernels/all.h -- one #include per rule (same order as ../rules.def). */
#include "sgd.h"
#include "adam.h"
#include "stream.h"
#include "rprop.h"
#include "asgd.h"
#include "lion.h"
#include "adabelief.h"
#include "diag_lm.h"
