// Hostile checkpoints and runs that fail half-way (issue 23, its first part): a checkpoint's
// optimizer file name cannot make dgm read or delete a file outside the run; data of the
// wrong width never reaches a model's copy to the device; a run that diverges stops before
// a checkpoint holds non-finite values, and its message names the checkpoint on disk.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "cli_test.h"

using namespace dgmtest;

namespace {

class Hostile : public CliTest {
protected:
    // Rewrites one metadata value (or any text) of a safetensors file's header (the header is JSON after an
    // 8-byte little-endian length; the tensors' offsets count from the header's end).
    void set_meta_value(const std::string &path, const std::string &from, const std::string &to)
    {
        replace_in_header(path, "\"" + from + "\"", "\"" + to + "\"");
    }
    void replace_in_header(const std::string &path, const std::string &from, const std::string &to)
    {
        std::vector<unsigned char> b = read_bytes(path);
        ASSERT_GE(b.size(), 8u);
        uint64_t len = 0;
        for (int i = 7; i >= 0; i--) len = len << 8 | b[(size_t)i];
        std::string header(b.begin() + 8, b.begin() + 8 + (long)len);
        const size_t at = header.find(from);
        ASSERT_NE(at, std::string::npos) << header;
        header.replace(at, from.size(), to);
        std::vector<unsigned char> out(8);
        for (int i = 0; i < 8; i++) out[(size_t)i] = (unsigned char)(header.size() >> (8 * i));
        out.insert(out.end(), header.begin(), header.end());
        out.insert(out.end(), b.begin() + 8 + (long)len, b.end());
        write_bytes(path, out);
    }
    std::string npy(const std::string &name, const std::vector<float> &x, int ndim, const int64_t *shape)
    {
        CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
        const std::string path = dir + "/" + name;
        EXPECT_EQ(dgm_save_npy(ctx.get(), path.c_str(), x.data(), ndim, shape), DGM_STATUS_OK);
        return path;
    }
};

// Makes `path` a sparse file of `size` bytes: `head`, then zeros (no disk used); 0 on success.
int truncate_to(const std::string &path, off_t size, const std::string &head = "")
{
    const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0) return -1;
    int rc = write(fd, head.data(), head.size()) == (ssize_t)head.size() ? 0 : -1;
    if (rc == 0) rc = ftruncate(fd, size);
    close(fd);
    return rc;
}

}  // namespace

TEST_F(Hostile, OptimizerFileNamedByACheckpointStaysInsideTheRun)
{
    const std::string run = dir + "/run", victim = dir + "/victim/x.safetensors";
    CliResult t = dgm("train gaussian --data moons --device cpu --steps 20 --save-every 10 --out " + run);
    ASSERT_EQ(t.code, 0) << t.err;
    const std::string own = "checkpoint.safetensors.optimizer-20.safetensors";
    ASSERT_TRUE(exists(run + "/" + own));
    // The victim: a valid optimizer file outside the run, so only the name check stops it.
    ASSERT_EQ(std::system(("mkdir -p " + dir + "/victim && cp " + run + "/" + own + " " + victim).c_str()), 0);
    set_meta_value(run + "/checkpoint.safetensors", own, "../victim/x.safetensors");

    CliResult r = dgm("train gaussian --data moons --device cpu --steps 40 --resume --out " + run);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("../victim/x.safetensors"), std::string::npos) << r.err;
    EXPECT_TRUE(exists(victim));

    // A fresh run into the folder replaces the checkpoint; the file its predecessor names is
    // not dgm's to remove.
    CliResult f = dgm("train gaussian --data moons --device cpu --steps 10 --save-every 5 --out " + run);
    EXPECT_EQ(f.code, 0) << f.err;
    EXPECT_TRUE(exists(victim));
    // Its own earlier optimizer files it does remove: one is left, the one it names.
    EXPECT_TRUE(exists(run + "/checkpoint.safetensors.optimizer-10.safetensors"));
    EXPECT_FALSE(exists(run + "/checkpoint.safetensors.optimizer-5.safetensors"));
}

// The reproduction: a model of 4 values per sample, data of 1 (and of 2 x 2, the
// right width by count only where it matches: checked by the model).
TEST_F(Hostile, ReconstructAndLatentMapRefuseDataOfAnotherWidth)
{
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> imgs(256 * 4);
    for (float &v : imgs) v = u(rng);
    const int64_t ishape[3] = {256, 2, 2};
    const std::string data = npy("img.npy", imgs, 3, ishape);
    CliResult t = dgm("train vae --data " + data + " --device cpu --steps 5 --latent 2 --hidden 8 --out " + dir + "/v");
    ASSERT_EQ(t.code, 0) << t.err;
    const int64_t cshape[2] = {64, 1};
    const std::string col = npy("col.npy", std::vector<float>(64, 0.5f), 2, cshape);
    for (const char *mode : {"--reconstruct", "--latent-map"}) {
        CliResult r = dgm("sample " + dir + "/v/checkpoint.safetensors " + mode + " -n 20000 -o " + dir +
                          "/x.png --device cpu --data " + col);
        EXPECT_EQ(r.code, 2) << mode << ": " << r.err;
        EXPECT_NE(r.err.find("col.npy"), std::string::npos) << mode << ": " << r.err;
        EXPECT_FALSE(exists(dir + "/x.png")) << mode;
    }
    CliResult e = dgm("eval " + dir + "/v/checkpoint.safetensors --device cpu --data " + col);
    EXPECT_EQ(e.code, 2) << e.err;
    // The right width still works.
    CliResult ok = dgm("sample " + dir + "/v/checkpoint.safetensors --reconstruct -n 16 -o " + dir +
                       "/ok.png --device cpu --data " + data);
    EXPECT_EQ(ok.code, 0) << ok.err;
}

// SGD at a rate that diverges in a few steps, a checkpoint every 5: the run stops at the
// first save step whose loss is not finite, and the checkpoint it names is the one on
// disk, every value finite (it used to stop at the next log step, step 100, naming a
// checkpoint full of NaN).
TEST_F(Hostile, DivergingRunKeepsAFiniteCheckpointAndSaysWhichStep)
{
    const std::string run = dir + "/nan";
    CliResult r = dgm("train vae --data moons --decoder gaussian --steps 300 --lr 0.05 --optimizer sgd "
                      "--save-every 5 --device cpu --out " + run);
    ASSERT_EQ(r.code, 1) << r.out;
    const std::string tag = "the last checkpoint, step ";
    const size_t at = r.err.find(tag);
    ASSERT_NE(at, std::string::npos) << r.err;
    const long named = std::atol(r.err.c_str() + at + tag.size());
    EXPECT_GT(named, 0) << r.err;
    CliResult info = dgm("info " + run + "/checkpoint.safetensors");
    ASSERT_EQ(info.code, 0) << info.err;
    EXPECT_NE(info.out.find("step: " + std::to_string(named) + "\n"), std::string::npos) << info.out;
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    dgm_safetensors *st = nullptr;
    ASSERT_EQ(dgm_safetensors_load(ctx.get(), (run + "/checkpoint.safetensors").c_str(), &st), DGM_STATUS_OK);
    int64_t values = 0, bad = 0;
    for (int i = 0; i < dgm_safetensors_count(st); i++) {
        const float *v = dgm_safetensors_data(st, i);
        for (int64_t j = 0; j < dgm_safetensors_numel(st, i); j++, values++) bad += !std::isfinite(v[j]);
    }
    dgm_safetensors_free(st);
    EXPECT_GT(values, 0);
    EXPECT_EQ(bad, 0) << "of " << values << " values";
}

// A checkpoint whose parameters are NaN (every byte after the header set to 0xff): sampling
// is an error that says so, and writes no file; it used to write "nan,nan" and exit 0.
TEST_F(Hostile, NonFiniteSamplesAreAnErrorNotAFile)
{
    ASSERT_EQ(dgm("train realnvp --data moons --device cpu --steps 5 --out " + dir + "/f").code, 0);
    const std::string ckpt = dir + "/f/checkpoint.safetensors";
    std::vector<unsigned char> b = read_bytes(ckpt);
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | b[(size_t)i];
    ASSERT_LT(8 + len, b.size());
    std::fill(b.begin() + 8 + (long)len, b.end(), 0xff);
    write_bytes(ckpt, b);
    for (const char *out : {"s.csv", "s.npy"}) {
        CliResult r = dgm("sample " + ckpt + " -n 10 --device cpu -o " + dir + "/" + out);
        EXPECT_EQ(r.code, 1) << out << ": " << r.out;
        EXPECT_NE(r.err.find("NaN or infinite"), std::string::npos) << r.err;
        EXPECT_FALSE(exists(dir + "/" + out)) << out;
    }
}

// One run per folder: while another process holds the folder's lock (here: this test, the
// way a running `dgm train` holds it), a second run exits 1 at once naming the holder's
// process and leaves the folder's files as they were.
TEST_F(Hostile, SecondRunInABusyFolderExitsNamingTheHolder)
{
    const std::string run = dir + "/run";
    ASSERT_EQ(dgm("train gaussian --data moons --device cpu --steps 10 --log-every 5 --out " + run).code, 0);
    const std::string metrics = read_text(run + "/metrics.jsonl");
    ASSERT_FALSE(metrics.empty());
    const int fd = open((run + "/.dgm.lock").c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
    const std::string pid = std::to_string((long)getpid());
    ASSERT_EQ(ftruncate(fd, 0), 0);
    ASSERT_EQ(pwrite(fd, (pid + "\n").c_str(), pid.size() + 1, 0), (ssize_t)pid.size() + 1);
    CliResult busy = dgm("train gaussian --data moons --device cpu --steps 20 --out " + run);
    EXPECT_EQ(busy.code, 1) << busy.out;
    EXPECT_NE(busy.err.find("in use by another run (process " + pid + ")"), std::string::npos) << busy.err;
    EXPECT_EQ(read_text(run + "/metrics.jsonl"), metrics);
    close(fd);  // the holder ends: the folder is free again
    CliResult again = dgm("train gaussian --data moons --device cpu --steps 20 --resume --out " + run);
    EXPECT_EQ(again.code, 0) << again.err;
}

// --set changes how a model samples, never what its weights mean: a linear/1000 DDPM loaded
// with --set schedule=cosine or timesteps=5 sampled garbage (878.6, -344.8); now a usage
// error naming the option and what can change. The sampling options still work.
TEST_F(Hostile, SetRefusesOptionsThatChangeWhatTheWeightsMean)
{
    ASSERT_EQ(dgm("train ddpm --data moons --device cpu --steps 5 --hidden 16 --out " + dir + "/d").code, 0);
    const std::string ckpt = dir + "/d/checkpoint.safetensors";
    for (const char *set : {"schedule=cosine", "timesteps=5", "ema=0"}) {
        CliResult r = dgm("sample " + ckpt + " -n 5 --device cpu -o " + dir + "/x.csv --set " + set);
        EXPECT_EQ(r.code, 2) << set << ": " << r.err;
        const std::string name(set, strchr(set, '=') - set);
        EXPECT_NE(r.err.find(name + ": fixed by the checkpoint"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("sampler sample-steps eta variance clip-x0"), std::string::npos) << r.err;
        EXPECT_FALSE(exists(dir + "/x.csv")) << set;
    }
    CliResult ok = dgm("sample " + ckpt + " -n 5 --device cpu -o " + dir + "/x.csv --set sampler=ddim --set sample-steps=5");
    EXPECT_EQ(ok.code, 0) << ok.err;
    ASSERT_EQ(dgm("train realnvp --data moons --device cpu --steps 5 --out " + dir + "/f").code, 0);
    CliResult flow = dgm("sample " + dir + "/f/checkpoint.safetensors -n 5 --device cpu -o " + dir + "/y.csv --set couplings=2");
    EXPECT_EQ(flow.code, 2) << flow.err;
    EXPECT_NE(flow.err.find("none of its options"), std::string::npos) << flow.err;
}

// A checkpoint written before an option existed means what dgm did then: image models of
// ddpm and gan from before --net (whose default is now auto: convolutional on images)
// were MLPs, and load as MLPs.
TEST_F(Hostile, CheckpointsFromBeforeAnOptionKeepTheirMeaning)
{
    std::mt19937 rng(4);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> imgs(32 * 64);
    for (float &v : imgs) v = u(rng);
    const int64_t shape[3] = {32, 8, 8};
    const std::string data = npy("old.npy", imgs, 3, shape);
    for (const std::string model : {"ddpm --timesteps 10 --hidden 8", "gan --g-hidden 8 --d-hidden 8"}) {
        const std::string out = dir + "/old";
        ASSERT_EQ(dgm("train " + model + " --net mlp --data " + data + " --steps 2 --batch 8 --device cpu --out " + out).code, 0) << model;
        const std::string ckpt = out + "/checkpoint.safetensors";
        replace_in_header(ckpt, ",\\\"net\\\":\\\"mlp\\\"", "");  // as written before --net
        CliResult info = dgm("info " + ckpt);
        ASSERT_EQ(info.code, 0) << model << ": " << info.err;
        EXPECT_NE(info.out.find("\"net\":\"mlp\""), std::string::npos) << info.out;
        CliResult s = dgm("sample " + ckpt + " -n 4 --device cpu -o " + dir + "/old.npy");
        EXPECT_EQ(s.code, 0) << model << ": " << s.err;
        std::system(("rm -rf " + out).c_str());
    }
}

// A checkpoint whose config the model refuses is an error about the file (exit 1, the path
// once), not a usage error about --set; the user's own mistakes are usage errors that name
// what they did, without the library's function names.
TEST_F(Hostile, ClearErrorsForCorruptConfigsAndMisusedOptions)
{
    ASSERT_EQ(dgm("train realnvp --data moons --device cpu --steps 5 --couplings 4 --out " + dir + "/f").code, 0);
    const std::string ckpt = dir + "/f/checkpoint.safetensors";
    CliResult good = dgm("eval " + ckpt + " --device cpu --metric ''");
    EXPECT_EQ(good.code, 2) << good.err;
    CliResult twice = dgm("eval " + ckpt + " --device cpu --metric nll,bpd,nll");
    EXPECT_EQ(twice.code, 2) << twice.err;
    EXPECT_NE(twice.err.find("nll is named twice"), std::string::npos) << twice.err;
    CliResult empty = dgm("eval " + ckpt + " --device cpu --metric nll,,bpd");
    EXPECT_EQ(empty.code, 2) << empty.err;

    replace_in_header(ckpt, "couplings\\\":4", "couplings\\\":-4");  // {\"couplings\":4, ...} in the header
    for (const std::string &cmd : {"sample " + ckpt + " -n 5 --device cpu -o " + dir + "/x.csv", "info " + ckpt}) {
        CliResult r = dgm(cmd);
        EXPECT_EQ(r.code, 1) << cmd << ": " << r.err;
        EXPECT_NE(r.err.find("config is not valid"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("--set"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find(ckpt), r.err.rfind(ckpt)) << "the path twice: " << r.err;
    }

    ASSERT_EQ(dgm("train gan --data moons --device cpu --steps 3 --out " + dir + "/g").code, 0);
    for (const char *mode : {"--latent-map", "--reconstruct"}) {
        CliResult r = dgm("sample " + dir + "/g/checkpoint.safetensors " + mode + " -n 10 --device cpu -o " + dir + "/l.png");
        EXPECT_EQ(r.code, 2) << mode << ": " << r.err;
        EXPECT_EQ(r.err.find("dgm_model_"), std::string::npos) << r.err;
    }
    CliResult lm = dgm("sample " + dir + "/g/checkpoint.safetensors --latent-map -n 10 --device cpu -o " + dir + "/l.png");
    EXPECT_NE(lm.err.find("--latent-map needs a model with an encoder (a vae)"), std::string::npos) << lm.err;
}

// A FIFO, a device or a folder as --data (or as a checkpoint) is refused at once: a FIFO
// blocked the open forever, /dev/zero named x.npy was read until memory ran out.
TEST_F(Hostile, DataThatIsNotARegularFileIsRefusedWithoutReading)
{
    ASSERT_EQ(mkfifo((dir + "/fifo.npy").c_str(), 0600), 0);
    ASSERT_EQ(mkfifo((dir + "/fifo").c_str(), 0600), 0);
    ASSERT_EQ(symlink("/dev/zero", (dir + "/zero.npy").c_str()), 0);
    for (const char *name : {"fifo.npy", "fifo", "zero.npy"}) {
        // (Should the check break, this blocks until ctest's time limit: a failure all the same.)
        CliResult r = dgm("train gaussian --data " + dir + "/" + name + " --steps 3 --device cpu --out " + dir + "/r");
        EXPECT_EQ(r.code, 1) << name << ": " << r.err;
        EXPECT_NE(r.err.find("is not a regular file"), std::string::npos) << name << ": " << r.err;
    }
    CliResult c = dgm("info " + dir + "/fifo");
    EXPECT_EQ(c.code, 1) << c.err;
    EXPECT_NE(c.err.find("is not a regular file (a FIFO)"), std::string::npos) << c.err;
}

// A run that fails at its start in an existing folder (a GAN's batch of 1, a rate that
// diverges at once) leaves the earlier run's files as they were: metrics.jsonl used to be
// emptied.
TEST_F(Hostile, RunFailingAtItsStartLeavesTheFolderAsItWas)
{
    const std::string run = dir + "/g";
    ASSERT_EQ(dgm("train gan --data ring8 --device cpu --steps 30 --log-every 10 --out " + run).code, 0);
    const std::string metrics = read_text(run + "/metrics.jsonl");
    const std::vector<unsigned char> ckpt = read_bytes(run + "/checkpoint.safetensors");
    ASSERT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 3) << metrics;
    // Refused before it starts now (a usage error), and a run that fails in its steps.
    for (const char *how : {"--batch 1", "--lr 1e30"}) {
        CliResult r = dgm("train gan --data ring8 --device cpu --steps 30 " + std::string(how) + " --out " + run);
        EXPECT_EQ(r.code, how[2] == 'b' ? 2 : 1) << how << ": " << r.err;
        EXPECT_EQ(read_text(run + "/metrics.jsonl"), metrics) << how;
        EXPECT_EQ(read_bytes(run + "/checkpoint.safetensors"), ckpt) << how;
    }
}

// --resume continues the recorded run: its optimizer, rate, betas, batch and data come from
// the checkpoint. It resumed a --lr 3e-3 run at the default 1e-3, could not resume an SGD
// run ("no 'exp_avg'"), and --data ring8 silently switched data. More steps may be given;
// another value of a recorded option is a usage error naming both.
TEST_F(Hostile, ResumeContinuesTheRecordedRun)
{
    const std::string run = dir + "/r", sgd = dir + "/s";
    const std::string common = "train realnvp --data moons --device cpu --log-every 5 ";
    ASSERT_EQ(dgm(common + "--steps 10 --lr 3e-3 --betas 0.5,0.9 --batch 64 --out " + run).code, 0);
    CliResult more = dgm("train realnvp --data moons --device cpu --steps 20 --resume --out " + run);
    ASSERT_EQ(more.code, 0) << more.err;
    const std::string m = read_text(run + "/metrics.jsonl");
    EXPECT_NE(m.find("\"step\": 20, \"epoch\": 0.0128, \"loss\""), std::string::npos) << m;  // batch 64 kept
    EXPECT_EQ(m.find("\"lr\": 0.001,"), std::string::npos) << m;
    EXPECT_NE(m.rfind("\"lr\": 0.003,"), std::string::npos) << m;
    CliResult info = dgm("info " + run + "/checkpoint.safetensors");
    EXPECT_NE(info.out.find("betas"), std::string::npos);

    CliResult lr = dgm("train realnvp --data moons --device cpu --steps 30 --resume --lr 1e-3 --out " + run);
    EXPECT_EQ(lr.code, 2) << lr.err;
    EXPECT_NE(lr.err.find("--lr 1e-3: the run was trained with lr 0.003"), std::string::npos) << lr.err;
    CliResult same = dgm("train realnvp --data moons --device cpu --steps 30 --resume --lr 3e-3 --out " + run);
    EXPECT_EQ(same.code, 0) << same.err;
    CliResult data = dgm("train realnvp --data ring8 --device cpu --steps 40 --resume --out " + run);
    EXPECT_EQ(data.code, 2) << data.err;
    EXPECT_NE(data.err.find("--data ring8: the run in " + run + " was trained on moons"), std::string::npos) << data.err;

    ASSERT_EQ(dgm(common + "--steps 10 --optimizer sgd --lr 0.01 --out " + sgd).code, 0);
    CliResult s = dgm("train realnvp --data moons --device cpu --steps 20 --resume --out " + sgd);
    EXPECT_EQ(s.code, 0) << s.err;
}

// A whole checkpoint in memory loads like the file; a hostile header cannot make the load
// allocate beyond what the file holds: a Gaussian claiming D = 10^6 (a D² state of 4 TB)
// and a VAE claiming widths of 65,536 fail on the tensors' shapes, before any allocation.
TEST_F(Hostile, CheckpointLoadAllocatesNoMoreThanTheFileHolds)
{
    const std::string run = dir + "/g", vrun = dir + "/v";
    ASSERT_EQ(dgm("train gaussian --data moons --device cpu --steps 5 --out " + run).code, 0);
    ASSERT_EQ(dgm("train vae --data moons --decoder gaussian --hidden 8 --latent 2 --device cpu --steps 5 --out " + vrun).code, 0);
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    const std::string ck = run + "/checkpoint.safetensors";
    std::vector<unsigned char> bytes = read_bytes(ck);

    dgm_model *from_file = nullptr, *from_memory = nullptr;
    ASSERT_EQ(dgm_model_load(ctx.get(), ck.c_str(), &from_file), DGM_STATUS_OK);
    ASSERT_EQ(dgm_model_load_memory(ctx.get(), bytes.data(), bytes.size(), nullptr, &from_memory), DGM_STATUS_OK)
        << dgm_last_error(ctx.get());
    const float x[4] = {0.1f, 0.2f, -0.3f, 0.5f};
    double s1 = 0, s2 = 0;
    ASSERT_EQ(dgm_model_score(from_file, x, 2, nullptr, &s1), DGM_STATUS_OK);
    ASSERT_EQ(dgm_model_score(from_memory, x, 2, nullptr, &s2), DGM_STATUS_OK);
    EXPECT_EQ(s1, s2);
    dgm_model_free(from_file);
    dgm_model_free(from_memory);

    // Truncated anywhere: an error with a message, never a model.
    for (size_t cut : {(size_t)0, (size_t)7, (size_t)20, bytes.size() / 2, bytes.size() - 1}) {
        dgm_model *m = (dgm_model *)&m;
        EXPECT_EQ(dgm_model_load_memory(ctx.get(), bytes.data(), cut, nullptr, &m), DGM_STATUS_BAD_FORMAT) << cut;
        EXPECT_EQ(m, nullptr);
    }

    set_meta_value(ck, "2 2", "1000000 1000000");
    dgm_model *m = nullptr;
    EXPECT_EQ(dgm_model_load(ctx.get(), ck.c_str(), &m), DGM_STATUS_BAD_FORMAT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("shape"), std::string::npos) << dgm_last_error(ctx.get());
    set_meta_value(ck, "1000000 1000000", "2 3");  // a shape that is not of the size
    EXPECT_EQ(dgm_model_load(ctx.get(), ck.c_str(), &m), DGM_STATUS_BAD_FORMAT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("metadata dim"), std::string::npos) << dgm_last_error(ctx.get());
    set_meta_value(ck, "2 3", "-5");
    EXPECT_EQ(dgm_model_load(ctx.get(), ck.c_str(), &m), DGM_STATUS_BAD_FORMAT);

    const std::string vk = vrun + "/checkpoint.safetensors";
    replace_in_header(vk, "[8]", "[65536]");
    EXPECT_EQ(dgm_model_load(ctx.get(), vk.c_str(), &m), DGM_STATUS_BAD_FORMAT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("shape"), std::string::npos) << dgm_last_error(ctx.get());
    EXPECT_EQ(m, nullptr);
}

// A large file of another format is refused at its first bytes: a sparse 64 GiB "x.npy"
// used to be read up to the 2 GiB cap, and a "checkpoint" of zeros read whole.
TEST_F(Hostile, FilesOfAnotherFormatAreRefusedAtTheirFirstBytes)
{
    const std::string npy_path = dir + "/x.npy", st_path = dir + "/x.safetensors";
    ASSERT_EQ(truncate_to(npy_path, (off_t)64 << 30), 0);
    ASSERT_EQ(truncate_to(st_path, (off_t)64 << 30), 0);
    CtxPtr ctx = make_ctx(DGM_DEVICE_CPU);
    dgm_dataset *ds = nullptr;
    EXPECT_EQ(dgm_dataset_load_npy(ctx.get(), npy_path.c_str(), &ds), DGM_STATUS_BAD_FORMAT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("bad magic"), std::string::npos) << dgm_last_error(ctx.get());
    const std::string idx_path = dir + "/x-idx3-ubyte";
    ASSERT_EQ(truncate_to(idx_path, (off_t)64 << 30, "PK\x03\x04"), 0);
    EXPECT_EQ(dgm_dataset_load_idx(ctx.get(), idx_path.c_str(), nullptr, &ds), DGM_STATUS_BAD_FORMAT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("not an IDX file (magic starts 50 4b"), std::string::npos)
        << dgm_last_error(ctx.get());
    dgm_model *m = nullptr;
    EXPECT_EQ(dgm_model_load(ctx.get(), st_path.c_str(), &m), DGM_STATUS_BAD_FORMAT);
    EXPECT_NE(std::string(dgm_last_error(ctx.get())).find("does not start with '{'"), std::string::npos)
        << dgm_last_error(ctx.get());
    CliResult r = dgm("sample " + st_path + " -n 1 -o " + dir + "/s.csv --device cpu");
    EXPECT_EQ(r.code, 1) << r.err;

    // The data a checkpoint records is a default that eval announces (a checkpoint is
    // untrusted input): the user sees which file is read and can choose another.
    const std::string run = dir + "/g";
    ASSERT_EQ(dgm("train gaussian --data moons --device cpu --steps 5 --out " + run).code, 0);
    CliResult e = dgm("eval " + run + "/checkpoint.safetensors --device cpu");
    EXPECT_EQ(e.code, 0) << e.err;
    EXPECT_NE(e.err.find("data: moons (recorded in " + run + "/checkpoint.safetensors; --data"), std::string::npos)
        << e.err;
    CliResult given = dgm("eval " + run + "/checkpoint.safetensors --data ring8 --device cpu");
    EXPECT_EQ(given.code, 0) << given.err;
    EXPECT_EQ(given.err.find("recorded in"), std::string::npos) << given.err;
}

// Options that cannot work are refused before the first step and before the run's folder
// exists (a GAN's batch of 1 failed in its first step; a batch of 5,000 under exact OT
// would take minutes a step); messages say what the user did wrong, with no library
// function names (cli_test.h checks that of every run).
TEST_F(Hostile, ImpossibleBatchesAreUsageErrorsBeforeAnythingIsWritten)
{
    const std::string out = dir + "/new/run";
    const struct {
        const char *args, *says;
    } cases[] = {
        {"gan --batch 1", "--batch 1: a gan trains on batches of at least 2 samples"},
        {"gan --batch 9 --pack 2", "a multiple of --pack 2"},
        {"fm --coupling ot --batch 5000", "--batch 5000: exact OT coupling"},
    };
    for (const auto &c : cases) {
        CliResult r = dgm(std::string("train ") + c.args + " --data moons --steps 3 --device cpu --out " + out);
        EXPECT_EQ(r.code, 2) << c.args << ": " << r.err;
        EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << ": " << r.err;
        EXPECT_FALSE(exists(dir + "/new")) << c.args;
    }
    // A failure after the folder was made (data the model refuses) removes the folder it made.
    CliResult v = dgm("train vae --data moons --steps 3 --device cpu --out " + out);
    EXPECT_EQ(v.code, 2) << v.err;
    EXPECT_FALSE(exists(out));

    CliResult m = dgm("compare moons ring8 -n 1 --metric mmd");
    EXPECT_EQ(m.code, 2) << m.err;
    EXPECT_NE(m.err.find("--metric mmd needs at least 2 points in each set"), std::string::npos) << m.err;
}
