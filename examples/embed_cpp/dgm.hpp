// A small RAII wrapper over dgm's C API (an example, not part of the library): a Context
// and a Model that free themselves, and errors as exceptions carrying dgm's message.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <dgm/dgm.h>

namespace dgmxx {

struct Error : std::runtime_error {
    dgm_status status;
    Error(dgm_status s, const std::string &what) : std::runtime_error(what), status(s) {}
};

class Context {
public:
    explicit Context(uint64_t seed, dgm_device device = DGM_DEVICE_CPU)
    {
        dgm_ctx_config cfg = dgm_ctx_config_default();
        cfg.seed = seed;
        cfg.device = device;
        dgm_ctx *raw = nullptr;
        const dgm_status st = dgm_ctx_create(&cfg, &raw);
        ctx_.reset(raw);
        if (st != DGM_STATUS_OK)
            throw Error(st, std::string("dgm context: ") + (raw ? dgm_last_error(raw) : "out of memory"));
    }
    dgm_ctx *get() const { return ctx_.get(); }
    // Throws with the context's message when st is not OK.
    void check(dgm_status st, const std::string &what) const
    {
        if (st != DGM_STATUS_OK) throw Error(st, what + ": " + dgm_last_error(ctx_.get()));
    }

private:
    struct Free {
        void operator()(dgm_ctx *c) const { dgm_ctx_free(c); }
    };
    std::unique_ptr<dgm_ctx, Free> ctx_;
};

// A trained model; must not outlive its Context.
class Model {
public:
    Model(const Context &ctx, const std::string &checkpoint) : ctx_(&ctx)
    {
        dgm_model *raw = nullptr;
        ctx.check(dgm_model_load(ctx.get(), checkpoint.c_str(), &raw), checkpoint);
        model_.reset(raw);
    }
    std::string kind() const { return dgm_model_kind(model_.get()); }
    std::string config() const { return dgm_model_config(model_.get()); }
    int64_t dim() const { return dgm_model_dim(model_.get()); }
    std::vector<int64_t> sample_shape() const
    {
        int64_t s[3];
        const int n = dgm_model_sample_shape(model_.get(), s);
        return std::vector<int64_t>(s, s + n);
    }
    // n samples, row-major [n, dim].
    std::vector<float> sample(int64_t n)
    {
        std::vector<float> out(static_cast<size_t>(n * dim()));
        ctx_->check(dgm_model_sample_into(model_.get(), n, out.data(), DGM_MEMORY_HOST), "sampling");
        return out;
    }
    // The mean of a metric (empty: the kind's default) over rows [n, dim].
    double score(const std::vector<float> &rows, const std::string &metric = "")
    {
        double v = 0.0;
        const int64_t n = static_cast<int64_t>(rows.size()) / dim();
        ctx_->check(dgm_model_score(model_.get(), rows.data(), n, metric.empty() ? nullptr : metric.c_str(), &v),
                    "scoring");
        return v;
    }

private:
    struct Free {
        void operator()(dgm_model *m) const { dgm_model_free(m); }
    };
    const Context *ctx_;
    std::unique_ptr<dgm_model, Free> model_;
};

}  // namespace dgmxx
