/* dgm: deep generative models in C11 and CUDA. Include this header for the whole API.
 * See docs/architecture.md for how the pieces fit. */
#ifndef DGM_H
#define DGM_H

#include "dgm/core.h"
#include "dgm/tensor.h"
#include "dgm/params.h"
#include "dgm/ops.h"
#include "dgm/nn.h"
#include "dgm/autodiff.h"
#include "dgm/optim.h"
#include "dgm/data.h"
#include "dgm/io.h"
#include "dgm/safetensors.h"
#include "dgm/metrics.h"
#include "dgm/flow.h"
#include "dgm/model.h"
#include "dgm/train.h"

#endif
