// The convolutional networks: the UNet and the DCGAN pair against finite differences
// through every layer (their composition of ops, not only each op), and each family's
// convolutional option trained, saved, loaded and sampled from the command line.
#include "cli_test.h"

using namespace dgmtest;

namespace {

// Every trainable tensor of p set to small random values (the zero-initialized layers
// would hide most of the network from the check).
void randomize(dgm_ctx *ctx, dgm_params *p, uint32_t seed)
{
    std::mt19937 rng(seed);
    for (int i = 0; i < dgm_params_count(p); i++) {
        if (dgm_params_is_buffer(p, i)) continue;
        dgm_tensor *t = dgm_params_at(p, i);
        auto v = random_values(rng, dgm_tensor_numel(t), -0.5f, 0.5f);
        ASSERT_EQ(dgm_tensor_copy_from_host(ctx, t, v.data()), DGM_STATUS_OK);
    }
}

// L = Σ w ⊙ f(): its gradient with respect to a sample of the parameters against central
// differences of step h (float forward passes summed in double).
void check_parameter_gradients(dgm_ctx *ctx, dgm_params *p, const std::function<dgm_tensor *()> &f,
                               int samples, float h, double rtol, double atol)
{
    dgm_tensor *y = f();
    ASSERT_NE(y, nullptr) << dgm_last_error(ctx);
    const int64_t ny = dgm_tensor_numel(y);
    std::mt19937 rng(9);
    const std::vector<float> w = random_values(rng, ny, -1.0f, 1.0f);
    auto objective = [&]() {
        dgm_ctx_set_grad_enabled(ctx, false);
        dgm_tensor *out = f();
        std::vector<float> v = to_host(ctx, out);
        dgm_ctx_set_grad_enabled(ctx, true);
        EXPECT_EQ(dgm_ctx_step_end(ctx), DGM_STATUS_OK);
        double s = 0.0;
        for (size_t i = 0; i < v.size(); i++) s += (double)v[i] * w[i];
        return s;
    };
    dgm_tensor *seed = from_host(ctx, {ny}, w);
    ASSERT_EQ(dgm_params_zero_grad(p), DGM_STATUS_OK);
    ASSERT_EQ(dgm_backward_from(ctx, y, seed), DGM_STATUS_OK) << dgm_last_error(ctx);
    ASSERT_EQ(dgm_ctx_step_end(ctx), DGM_STATUS_OK);
    std::vector<float> grad((size_t)dgm_params_numel(p));
    const float *g = dgm_params_grads(p);  // host memory on the CPU backend
    std::copy(g, g + grad.size(), grad.begin());
    float *values = dgm_params_values(p);
    std::uniform_int_distribution<int64_t> pick(0, dgm_params_numel(p) - 1);
    int bad = 0;
    for (int s = 0; s < samples; s++) {
        const int64_t i = pick(rng);
        const float keep = values[i];
        values[i] = keep + h;
        const double up = objective();
        values[i] = keep - h;
        const double down = objective();
        values[i] = keep;
        const double numeric = (up - down) / (2.0 * h);
        if (std::fabs(numeric - grad[(size_t)i]) > atol + rtol * std::fabs(numeric) && bad++ < 5)
            ADD_FAILURE() << "parameter float " << i << ": backward " << grad[(size_t)i] << ", differences " << numeric;
    }
    EXPECT_EQ(bad, 0);
}

TEST(ConvNets, UNetGradientsMatchFiniteDifferences)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 3);
    ASSERT_TRUE(ctx);
    dgm_params *p = nullptr;
    ASSERT_EQ(dgm_params_create(ctx.get(), &p), DGM_STATUS_OK);
    dgm_unet_config c = dgm_unet_config_default();
    c.height = c.width = 8;
    c.embedding_dim = 4;
    c.levels = 2;
    c.channels[0] = 4;
    c.channels[1] = 8;
    c.attention[0] = false;
    c.attention[1] = true;
    c.blocks = 1;
    dgm_unet *u = nullptr;
    ASSERT_EQ(dgm_unet_create(p, "net", &c, &u), DGM_STATUS_OK) << dgm_last_error(ctx.get());
    ASSERT_EQ(dgm_params_alloc(p), DGM_STATUS_OK);
    // The PyTorch module tree's names (benchmarks/peers/torch_convnets.py).
    for (const char *name : {"net.time_embed.0.weight", "net.down.0.res.0.conv1.weight", "net.down.0.downsample.bias",
                             "net.down.1.attn.0.qkv.weight", "net.down.1.res.0.skip.weight", "net.mid.attn.proj.weight",
                             "net.up.1.res.1.emb.weight", "net.up.1.upsample.weight", "net.up.0.res.1.skip.weight",
                             "net.norm_out.weight", "net.conv_out.bias"})
        EXPECT_NE(dgm_params_get(p, name), nullptr) << name;
    EXPECT_EQ(dgm_params_get(p, "net.down.0.attn.0.qkv.weight"), nullptr) << "no attention at level 0";
    randomize(ctx.get(), p, 4);
    std::mt19937 rng(5);
    const std::vector<float> xv = random_values(rng, 2 * 64, -1.0f, 1.0f), ev = random_values(rng, 8, -1.0f, 1.0f);
    dgm_tensor *x = nullptr, *e = nullptr;
    const int64_t xs[4] = {2, 1, 8, 8}, es[2] = {2, 4};
    ASSERT_EQ(dgm_tensor_create(ctx.get(), 4, xs, &x), DGM_STATUS_OK);
    ASSERT_EQ(dgm_tensor_create(ctx.get(), 2, es, &e), DGM_STATUS_OK);
    ASSERT_EQ(dgm_tensor_copy_from_host(ctx.get(), x, xv.data()), DGM_STATUS_OK);
    ASSERT_EQ(dgm_tensor_copy_from_host(ctx.get(), e, ev.data()), DGM_STATUS_OK);
    check_parameter_gradients(ctx.get(), p, [&]() {
        dgm_tensor *y = nullptr;
        EXPECT_EQ(dgm_unet_forward(ctx.get(), u, x, e, false, &y), DGM_STATUS_OK) << dgm_last_error(ctx.get());
        return y;
    }, 60, 1e-2f, 2e-2, 2e-3);
    dgm_tensor_free(x);
    dgm_tensor_free(e);
    dgm_unet_free(u);
    dgm_params_free(p);
}

TEST(ConvNets, DcganGradientsMatchFiniteDifferences)
{
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU, 3);
    ASSERT_TRUE(ctx);
    dgm_params *p = nullptr;
    ASSERT_EQ(dgm_params_create(ctx.get(), &p), DGM_STATUS_OK);
    dgm_dcgan_config c = dgm_dcgan_config_default();
    c.height = c.width = 8;
    c.latent = 3;
    c.hidden = 8;
    c.base_channels = 4;
    dgm_dcgan_generator *g = nullptr;
    dgm_dcgan_discriminator *d = nullptr;
    ASSERT_EQ(dgm_dcgan_generator_create(p, "generator", &c, &g), DGM_STATUS_OK) << dgm_last_error(ctx.get());
    ASSERT_EQ(dgm_dcgan_discriminator_create(p, "discriminator", &c, &d), DGM_STATUS_OK);
    ASSERT_EQ(dgm_params_alloc(p), DGM_STATUS_OK);
    for (const char *name : {"generator.fc1.weight", "generator.bn1.running_var", "generator.deconv1.weight",
                             "generator.bn3.weight", "generator.deconv2.bias", "discriminator.conv2.weight",
                             "discriminator.fc2.bias"})
        EXPECT_NE(dgm_params_get(p, name), nullptr) << name;
    EXPECT_EQ(dgm_params_get(p, "generator.fc1.bias"), nullptr) << "batch norm follows: no bias";
    randomize(ctx.get(), p, 6);
    std::mt19937 rng(7);
    const std::vector<float> zv = random_values(rng, 4 * 3, -1.5f, 1.5f);
    dgm_tensor *z = nullptr;
    const int64_t zs[2] = {4, 3};
    ASSERT_EQ(dgm_tensor_create(ctx.get(), 2, zs, &z), DGM_STATUS_OK);
    ASSERT_EQ(dgm_tensor_copy_from_host(ctx.get(), z, zv.data()), DGM_STATUS_OK);
    // D(G(z)) with G in training mode (batch statistics): both players' parameters.
    check_parameter_gradients(ctx.get(), p, [&]() {
        dgm_tensor *img = nullptr, *v = nullptr;
        EXPECT_EQ(dgm_dcgan_generator_forward(ctx.get(), g, z, true, &img), DGM_STATUS_OK) << dgm_last_error(ctx.get());
        EXPECT_EQ(dgm_dcgan_discriminator_forward(ctx.get(), d, img, &v), DGM_STATUS_OK) << dgm_last_error(ctx.get());
        return v;
    }, 60, 1e-3f, 2e-2, 2e-3);
    dgm_tensor_free(z);
    dgm_dcgan_generator_free(g);
    dgm_dcgan_discriminator_free(d);
    dgm_params_free(p);
}

class ConvModels : public CliTest {
protected:
    // 32 random 8×8 images in [0, 1] as DIR/images.npy.
    std::string images()
    {
        CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
        std::mt19937 rng(2);
        const std::vector<float> v = random_values(rng, 32 * 64, 0.0f, 1.0f);
        const int64_t shape[3] = {32, 8, 8};
        const std::string path = dir + "/images.npy";
        EXPECT_EQ(dgm_save_npy(ctx.get(), path.c_str(), v.data(), 3, shape), DGM_STATUS_OK);
        return path;
    }
};

// Each family's convolutional network trains a few steps from the command line, its
// checkpoint holds the network under its PyTorch names, and it loads and samples.
TEST_F(ConvModels, EachFamilyTrainsSavesLoadsAndSamples)
{
    const std::string data = images();
    const std::string unet = " --net unet --channels 8,8 --attention 4 --blocks 1";
    const struct {
        std::string args, tensor;
    } runs[] = {
        // short samplers: the end of training writes a grid of samples
        {"ddpm --timesteps 50" + unet, "net.mid.attn.qkv.weight"},
        {"fm --sample-steps 10" + unet, "net.up.1.upsample.weight"},
        {"ncsn --levels 4 --sample-steps 3" + unet, "net.conv_in.weight"},
        {"sde --sample-steps 20 --predictor euler-maruyama --corrector none" + unet, "net.down.1.attn.0.proj.weight"},
        {"gan --net dcgan --latent 4", "discriminator.conv2.weight"},
        {"vae --net conv --hidden 16 --latent 3", "encoder.conv1.weight"},
    };
    for (const auto &r : runs) {
        const std::string out = dir + "/m";
        CliResult t = dgm("train " + r.args + " --data " + data + " --steps 2 --batch 8 --device cpu --out " + out);
        ASSERT_EQ(t.code, 0) << r.args << "\n" << t.err;
        const std::string ck = out + "/checkpoint.safetensors";
        EXPECT_NE(tensors_of(ck).find(r.tensor), std::string::npos) << r.args << ": no " << r.tensor;
        CliResult s = dgm("sample " + ck + " -n 3 -o " + dir + "/s.npy");
        EXPECT_EQ(s.code, 0) << r.args << "\n" << s.err;
        EXPECT_TRUE(exists(dir + "/s.npy")) << r.args;
        std::system(("rm -rf " + out + " " + dir + "/s.npy").c_str());
    }
}

// With no --net, images get the convolutional networks and their image run (batch 64,
// a run sized for 2 CPU cores); images the UNet's levels cannot halve fall back to the
// MLP; --net mlp keeps the MLP's image run.
TEST_F(ConvModels, ImagesDefaultToTheConvolutionalNetworks)
{
    const std::string data = images();
    const struct {
        std::string args, tensor;
    } runs[] = {
        {"ddpm --timesteps 20", "net.conv_in.weight"},
        {"fm --sample-steps 4", "net.mid.attn.qkv.weight"},
        {"ncsn --levels 3 --sample-steps 2", "net.conv_in.weight"},
        {"sde --sample-steps 4 --predictor euler-maruyama --corrector none", "net.conv_in.weight"},
        {"gan --latent 4", "discriminator.conv1.weight"},
    };
    for (const auto &r : runs) {
        const std::string out = dir + "/m";
        CliResult t = dgm("train " + r.args + " --data " + data + " --steps 1 --batch 8 --device cpu --out " + out);
        ASSERT_EQ(t.code, 0) << r.args << "\n" << t.err;
        EXPECT_NE(tensors_of(out + "/checkpoint.safetensors").find(r.tensor), std::string::npos) << r.args;
        std::system(("rm -rf " + out).c_str());
    }
    // --attention replaces the default sides: none leaves only the middle block's
    CliResult n = dgm("train ddpm --timesteps 20 --attention none --data " + data +
                      " --steps 1 --batch 8 --device cpu --out " + dir + "/n");
    ASSERT_EQ(n.code, 0) << n.err;
    const std::string names = tensors_of(dir + "/n/checkpoint.safetensors");
    EXPECT_NE(names.find("net.mid.attn."), std::string::npos);
    EXPECT_EQ(names.find("net.down.1.attn."), std::string::npos);
    EXPECT_EQ(names.find("net.up.2.attn."), std::string::npos);

    // 6×6: the default UNet's three levels need sides divisible by 4
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    std::mt19937 rng(3);
    const std::vector<float> v = random_values(rng, 16 * 36, 0.0f, 1.0f);
    const int64_t shape[3] = {16, 6, 6};
    const std::string odd = dir + "/odd.npy";
    ASSERT_EQ(dgm_save_npy(ctx.get(), odd.c_str(), v.data(), 3, shape), DGM_STATUS_OK);
    CliResult t = dgm("train fm --data " + odd + " --hidden 8 --sample-steps 2 --steps 1 --batch 8 --device cpu --out " + dir + "/o");
    ASSERT_EQ(t.code, 0) << t.err;
    EXPECT_NE(tensors_of(dir + "/o/checkpoint.safetensors").find("net.0.weight"), std::string::npos);

    for (const char *kind : {"ddpm", "fm", "ncsn", "sde", "gan"}) {
        dgm_train_defaults unet{}, mlp{}, flat{};
        ASSERT_EQ(dgm_model_train_defaults_for_data(kind, nullptr, 2, &unet), DGM_STATUS_OK);
        const std::string m = std::string(R"({"net":"mlp"})");
        ASSERT_EQ(dgm_model_train_defaults_for_data(kind, m.c_str(), 2, &mlp), DGM_STATUS_OK);
        ASSERT_EQ(dgm_model_train_defaults_for_data(kind, nullptr, 1, &flat), DGM_STATUS_OK);
        EXPECT_EQ(unet.batch, 64) << kind;
        EXPECT_NE(mlp.batch, 64) << kind;
        EXPECT_NE(flat.batch, 64) << kind;
    }
    // the image runs measured on 2 CPU cores say how long they took
    for (const char *kind : {"ddpm", "fm", "gan", "realnvp"}) {
        EXPECT_NE(dgm_model_image_run_time(kind), nullptr) << kind;
        CliResult h = dgm(std::string("train ") + kind + " --help");
        EXPECT_NE(h.out.find("time        "), std::string::npos) << kind << h.out;
    }
}

TEST_F(ConvModels, ConvolutionalNetworksOnVectorsAreAClearError)
{
    const std::string data = gaussian_csv(64);
    for (const std::string args : {"ddpm --net unet", "gan --net dcgan", "vae --net conv"}) {
        CliResult r = dgm("train " + args + " --data " + data + " --steps 1 --device cpu --out " + dir + "/m");
        EXPECT_NE(r.code, 0) << args;
        EXPECT_NE(r.err.find("not images"), std::string::npos) << args << ": " << r.err;
    }
}

}  // namespace
