// The library's trainer (dgm/train.h): what `dgm train` and the FID classifier run on, and
// what an embedding program or Python calls. Run length and the callback's cadence, a stop
// from the callback, files, bit-exact resume, a NaN stop that keeps the last checkpoint,
// the options by name and the JSON constructor.
#include "test_files.h"
#include "test_util.h"

using namespace dgmtest;

namespace {

struct ModelDeleter {
    void operator()(dgm_model *m) const { dgm_model_free(m); }
};
using ModelPtr = std::unique_ptr<dgm_model, ModelDeleter>;
struct DatasetDeleter {
    void operator()(dgm_dataset *d) const { dgm_dataset_free(d); }
};
using DatasetPtr = std::unique_ptr<dgm_dataset, DatasetDeleter>;
struct TrainerDeleter {
    void operator()(dgm_trainer *t) const { dgm_trainer_free(t); }
};
using TrainerPtr = std::unique_ptr<dgm_trainer, TrainerDeleter>;

DatasetPtr moons(dgm_ctx *ctx, int64_t n = 2000)
{
    dgm_dataset *d = nullptr;
    EXPECT_EQ(dgm_dataset_toy(ctx, "moons", n, 1, &d), DGM_STATUS_OK) << dgm_last_error(ctx);
    return DatasetPtr(d);
}

ModelPtr realnvp(dgm_ctx *ctx)
{
    const int64_t shape[1] = {2};
    dgm_model *m = nullptr;
    EXPECT_EQ(dgm_model_create(ctx, "realnvp", "{\"hidden\": \"16,16\", \"couplings\": \"2\"}", 2, 1, shape, &m),
              DGM_STATUS_OK)
        << dgm_last_error(ctx);
    return ModelPtr(m);
}

std::string tensor_bytes(dgm_model *m)
{
    dgm_params *p = dgm_model_params(m);
    const float *v = dgm_params_values(p);
    return std::string((const char *)v, (size_t)dgm_params_total_numel(p) * sizeof(float));
}

struct Calls {
    std::vector<int64_t> steps;
    std::vector<double> losses, lrs;
    int64_t stop_at = 0;
};

int record(void *user, const dgm_train_progress *p)
{
    Calls *c = static_cast<Calls *>(user);
    c->steps.push_back(p->step);
    c->losses.push_back(p->loss);
    c->lrs.push_back(p->lr);
    return c->stop_at && p->step >= c->stop_at;
}

}  // namespace

TEST(Trainer, RunsTheRunLengthAndCallsBackAtEachLogStep)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 3);
    ASSERT_TRUE(ctx);
    DatasetPtr data = moons(ctx.get());
    ModelPtr m = realnvp(ctx.get());
    ASSERT_TRUE(data && m);
    TempDir tmp;
    dgm_train_options o;
    DGM_ASSERT_OK(ctx.get(), dgm_train_options_default(m.get(), data.get(), &o));
    char err[256] = "";
    ASSERT_EQ(dgm_train_defaults_override(&o.run, "{\"steps\": 30, \"log-every\": \"10\", \"batch\": 64}", err, sizeof err),
              DGM_STATUS_OK)
        << err;
    Calls calls;
    const std::string dir = tmp.file("run/nested");
    o.dir = dir.c_str();
    o.on_progress = record;
    o.user = &calls;
    dgm_trainer *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_trainer_create(m.get(), data.get(), &o, &raw));
    TrainerPtr t(raw);
    EXPECT_EQ(dgm_trainer_total_steps(t.get()), 30);
    EXPECT_EQ(dgm_trainer_steps_per_epoch(t.get()), (2000 + 63) / 64);
    DGM_ASSERT_OK(ctx.get(), dgm_trainer_run(t.get()));
    EXPECT_EQ(dgm_trainer_steps(t.get()), 30);
    EXPECT_FALSE(dgm_trainer_stopped(t.get()));
    EXPECT_EQ(calls.steps, (std::vector<int64_t>{10, 20, 30}));
    for (double l : calls.losses) EXPECT_TRUE(std::isfinite(l));
    EXPECT_EQ(dgm_trainer_last_loss(t.get()), calls.losses.back());
    // Three metrics lines and a checkpoint at step 30 in the folder it made.
    const std::string metrics = read_text(dir + "/metrics.jsonl");
    EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 3) << metrics;
    EXPECT_NE(metrics.find("\"step\": 30,"), std::string::npos) << metrics;
    EXPECT_EQ(std::string(dgm_trainer_checkpoint_path(t.get())), dir + "/checkpoint.safetensors");
    char *step = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_checkpoint_meta(ctx.get(), (dir + "/checkpoint.safetensors").c_str(), "step", &step));
    EXPECT_STREQ(step, "30");
    free(step);
}

TEST(Trainer, CallbackStopsTheRunAndTheCheckpointHasThatStep)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 3);
    DatasetPtr data = moons(ctx.get());
    ModelPtr m = realnvp(ctx.get());
    TempDir tmp;
    Calls calls;
    calls.stop_at = 7;
    dgm_trainer *raw = nullptr;
    const std::string opts = "{\"steps\": 100, \"dir\": \"" + tmp.path + "\", \"progress_every\": 1}";
    DGM_ASSERT_OK(ctx.get(), dgm_trainer_create_json(m.get(), data.get(), opts.c_str(), record, &calls, &raw));
    TrainerPtr t(raw);
    DGM_ASSERT_OK(ctx.get(), dgm_trainer_run(t.get()));
    EXPECT_TRUE(dgm_trainer_stopped(t.get()));
    EXPECT_EQ(dgm_trainer_steps(t.get()), 7);
    EXPECT_EQ(calls.steps.size(), 7u);
    char *step = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_checkpoint_meta(ctx.get(), tmp.file("checkpoint.safetensors").c_str(), "step", &step));
    EXPECT_STREQ(step, "7");
    free(step);
    // A step after the end does nothing and says done.
    bool done = false;
    DGM_ASSERT_OK(ctx.get(), dgm_trainer_step(t.get(), &done));
    EXPECT_TRUE(done);
    EXPECT_EQ(dgm_trainer_steps(t.get()), 7);
}

// 13 steps, then a new process's worth of objects resuming to 30, equals 30 straight.
TEST(Trainer, ResumeThroughTheLibraryIsBitExact)
{
    TempDir tmp;
    const std::string straight = "{\"steps\": 30, \"batch\": 128, \"dir\": \"" + tmp.file("a") + "\"}";
    std::string expected;
    {
        CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 5);
        DatasetPtr data = moons(ctx.get());
        ModelPtr m = realnvp(ctx.get());
        dgm_trainer *raw = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_trainer_create_json(m.get(), data.get(), straight.c_str(), nullptr, nullptr, &raw));
        TrainerPtr t(raw);
        DGM_ASSERT_OK(ctx.get(), dgm_trainer_run(t.get()));
        expected = tensor_bytes(m.get());
    }
    const std::string dir = tmp.file("b");
    {
        CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 5);
        DatasetPtr data = moons(ctx.get());
        ModelPtr m = realnvp(ctx.get());
        dgm_trainer *raw = nullptr;
        const std::string first = "{\"steps\": 13, \"batch\": 128, \"dir\": \"" + dir + "\"}";
        DGM_ASSERT_OK(ctx.get(), dgm_trainer_create_json(m.get(), data.get(), first.c_str(), nullptr, nullptr, &raw));
        TrainerPtr t(raw);
        DGM_ASSERT_OK(ctx.get(), dgm_trainer_run(t.get()));
        EXPECT_NE(tensor_bytes(m.get()), expected);
    }
    {
        CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 5);
        DatasetPtr data = moons(ctx.get());
        dgm_model *loaded = nullptr;
        DGM_ASSERT_OK(ctx.get(), dgm_model_load(ctx.get(), (dir + "/checkpoint.safetensors").c_str(), &loaded));
        ModelPtr m(loaded);
        dgm_trainer *raw = nullptr;
        const std::string rest = "{\"steps\": 30, \"batch\": 128, \"resume\": true, \"dir\": \"" + dir + "\"}";
        DGM_ASSERT_OK(ctx.get(), dgm_trainer_create_json(m.get(), data.get(), rest.c_str(), nullptr, nullptr, &raw));
        TrainerPtr t(raw);
        EXPECT_EQ(dgm_trainer_steps(t.get()), 13);
        DGM_ASSERT_OK(ctx.get(), dgm_trainer_run(t.get()));
        EXPECT_EQ(dgm_trainer_steps(t.get()), 30);
        EXPECT_EQ(tensor_bytes(m.get()), expected);
        // One trainer per folder, in one process too: the folder is locked while t lives.
        dgm_trainer *again = nullptr;
        EXPECT_EQ(dgm_trainer_create_json(m.get(), data.get(), rest.c_str(), nullptr, nullptr, &again),
                  DGM_STATUS_STATE_ERROR);
        EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("in use by another run"), std::string::npos)
            << dgm_last_error(ctx.get());
        t.reset();
        // A run already at its length is an error, not a silent no-op.
        EXPECT_EQ(dgm_trainer_create_json(m.get(), data.get(), rest.c_str(), nullptr, nullptr, &again),
                  DGM_STATUS_STATE_ERROR);
        EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("already at step 30"), std::string::npos)
            << dgm_last_error(ctx.get());
    }
    const std::string metrics = read_text(dir + "/metrics.jsonl");
    EXPECT_NE(metrics.find("\"step\": 13,"), std::string::npos) << metrics;  // appended, not replaced
    EXPECT_NE(metrics.find("\"step\": 30,"), std::string::npos) << metrics;
}

namespace {
// A custom step: the mean of w * x over a fixed input, its loss NaN from step `nan_at` on.
struct Custom {
    dgm_ctx *ctx;
    dgm_params *params;
    int64_t nan_at = -1;
    int64_t calls = 0;
};

dgm_status custom_step(void *user, int64_t step, dgm_tensor **loss)
{
    Custom *c = static_cast<Custom *>(user);
    c->calls++;
    dgm_tensor *w = dgm_params_get(c->params, "w");
    dgm_tensor *sq = nullptr, *mean = nullptr, *out = nullptr;
    dgm_status st = dgm_square(c->ctx, w, &sq);
    if (st == DGM_STATUS_OK) st = dgm_mean(c->ctx, sq, DGM_AXIS_ALL, &mean);
    if (st == DGM_STATUS_OK && c->nan_at >= 0 && step >= c->nan_at) {
        st = dgm_scale(c->ctx, mean, NAN, 0.0f, &out);  // NaN · x: a NaN loss with a NaN gradient
        mean = out;
    }
    if (st == DGM_STATUS_OK) st = dgm_backward(c->ctx, mean);
    *loss = mean;
    return st;
}
}  // namespace

TEST(Trainer, CustomStepRunsEpochsWithTheCosineScheduleAndStopsOnNaN)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 1);
    dgm_params *p = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_params_create(ctx.get(), &p));
    std::unique_ptr<dgm_params, void (*)(dgm_params *)> params(p, dgm_params_free);
    const int64_t shape[1] = {4};
    dgm_init zeros = {};
    DGM_ASSERT_OK(ctx.get(), dgm_params_add(p, "w", 1, shape, zeros));
    DGM_ASSERT_OK(ctx.get(), dgm_params_alloc(p));
    float *v = dgm_params_values(p);
    for (int i = 0; i < 4; i++) v[i] = 1.0f + (float)i;

    dgm_train_options o;
    memset(&o, 0, sizeof o);
    o.run.run = DGM_RUN_EPOCHS;
    o.run.length = 3;
    o.run.batch = 1;
    o.run.optim = dgm_optim_config_default(DGM_OPTIM_SGD);
    o.run.optim.lr = 0.1f;
    o.run.schedule = dgm_lr_schedule{DGM_LR_COSINE, 0.1f, 0, 0, 0.0f};
    o.run.log_every = 1;
    Calls calls;
    o.on_progress = record;
    o.user = &calls;
    Custom c{ctx.get(), p};
    dgm_trainer *raw = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_trainer_create_custom(ctx.get(), p, 4, custom_step, &c, &o, &raw));
    TrainerPtr t(raw);
    EXPECT_EQ(dgm_trainer_total_steps(t.get()), 12);
    DGM_ASSERT_OK(ctx.get(), dgm_trainer_run(t.get()));
    EXPECT_EQ(c.calls, 12);
    ASSERT_EQ(calls.lrs.size(), 12u);
    EXPECT_FLOAT_EQ((float)calls.lrs[0], 0.1f);                 // the cosine starts at the peak
    EXPECT_LT(calls.lrs[11], 0.01);                               // and ends near 0
    EXPECT_LT(calls.losses.back(), calls.losses.front());         // SGD on w² went down
    EXPECT_STREQ(dgm_trainer_checkpoint_path(t.get()), "");       // a custom trainer saves nothing

    // The same with a NaN loss from step 5: NOT_FINITE naming the step, and no step after.
    Custom bad{ctx.get(), p, 5};
    dgm_trainer *raw2 = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_trainer_create_custom(ctx.get(), p, 4, custom_step, &bad, &o, &raw2));
    TrainerPtr t2(raw2);
    EXPECT_EQ(dgm_trainer_run(t2.get()), DGM_STATUS_NOT_FINITE);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("the loss is NaN at step 6"), std::string::npos)
        << dgm_last_error(ctx.get());
    bool done = false;
    EXPECT_EQ(dgm_trainer_step(t2.get(), &done), DGM_STATUS_STATE_ERROR);
    EXPECT_EQ(bad.calls, 6);
}

TEST(Trainer, OptionsByNameApplyInOneOrderAndNameWhatIsWrong)
{
    dgm_train_defaults t;
    ASSERT_EQ(dgm_model_train_defaults("realnvp", &t), DGM_STATUS_OK);
    char err[512] = "";
    // lr before optimizer in the object: the optimizer's defaults first, then the lr.
    ASSERT_EQ(dgm_train_defaults_override(&t, "{\"lr\": 0.5, \"optimizer\": \"sgd\", \"epochs\": 2}", err, sizeof err),
              DGM_STATUS_OK)
        << err;
    EXPECT_EQ(t.optim.kind, DGM_OPTIM_SGD);
    EXPECT_FLOAT_EQ(t.optim.lr, 0.5f);
    EXPECT_FLOAT_EQ(t.schedule.base_lr, 0.5f);
    EXPECT_EQ(t.run, DGM_RUN_EPOCHS);
    EXPECT_EQ(t.length, 2);
    const dgm_train_defaults before = t;
    struct Case {
        const char *json, *mention;
    } cases[] = {
        {"{\"betas\": \"0.9,0.99\"}", "betas 0.9,0.99: the sgd optimizer has no betas"},
        {"{\"steps\": 5, \"epochs\": 1}", "give steps or epochs"},
        {"{\"steps\": 0}", "steps 0: not a valid value"},
        {"{\"lr\": \"-1\"}", "lr -1"},
        {"{\"optimizer\": \"lion\"}", "optimizer lion"},
        {"{\"warmup\": 3}", "warmup: unknown run option"},
        {"{\"batch\": [1]}", "batch: expected a string or a number"},
        {"[1, 2]", "not a JSON object"},
    };
    for (const auto &c : cases) {
        err[0] = 0;
        EXPECT_EQ(dgm_train_defaults_override(&t, c.json, err, sizeof err), DGM_STATUS_INVALID_ARGUMENT) << c.json;
        EXPECT_NE(std::string(err).find(c.mention), std::string::npos) << c.json << ": " << err;
        EXPECT_EQ(memcmp(&t, &before, sizeof t), 0) << c.json << " changed the options";
    }
    EXPECT_TRUE(dgm_train_is_run_option("weight-decay"));
    EXPECT_FALSE(dgm_train_is_run_option("hidden"));
}

TEST(Trainer, JsonConstructorRejectsUnknownKeysAndUnfitData)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 0);
    DatasetPtr data = moons(ctx.get(), 300);
    ModelPtr m = realnvp(ctx.get());
    dgm_trainer *t = nullptr;
    EXPECT_EQ(dgm_trainer_create_json(m.get(), data.get(), "{\"stpes\": 3}", nullptr, nullptr, &t),
              DGM_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("stpes"), std::string::npos) << dgm_last_error(ctx.get());
    EXPECT_EQ(t, nullptr);
    EXPECT_EQ(dgm_trainer_create_json(m.get(), data.get(), "{\"resume\": true}", nullptr, nullptr, &t),
              DGM_STATUS_INVALID_ARGUMENT);  // resume needs a folder
    // A 3-value dataset for a 2-D model: the data check's own error, from the trainer.
    const float x[6] = {0, 1, 2, 3, 4, 5};
    const int64_t shape[1] = {3};
    dgm_dataset *wide = nullptr;
    DGM_ASSERT_OK(ctx.get(), dgm_dataset_from_memory(ctx.get(), 2, 1, shape, x, nullptr, &wide));
    DatasetPtr w(wide);
    const dgm_status check = dgm_model_check_data(m.get(), wide);
    ASSERT_NE(check, DGM_STATUS_OK);
    const std::string model_says = dgm_last_error(ctx.get());
    const dgm_status st = dgm_trainer_create_json(m.get(), wide, "{\"data_name\": \"wide.npy\"}", nullptr, nullptr, &t);
    EXPECT_EQ(st, check);
    EXPECT_EQ(std::string(dgm_last_error(ctx.get())), "data wide.npy: " + model_says);  // the model's words intact
    EXPECT_EQ(t, nullptr);
}
