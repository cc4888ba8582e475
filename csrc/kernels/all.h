/* kernels/all.h -- one #include per rule (same order as ../rules.def). */
#include "sgd.h"
#include "adam.h"
#include "stream.h"
#include "adagrad.h"
#include "rmsprop.h"
#include "adadelta.h"
#include "adamax.h"
#include "radam.h"
