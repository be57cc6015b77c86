// Embedding dgm in a C++ program through a small RAII wrapper (dgm.hpp): open a
// checkpoint, draw samples, score them, write them as .npy.
//
//   embed_cpp CHECKPOINT N SEED OUT.npy
//
// The samples equal `dgm sample CHECKPOINT -n N --seed SEED -o OUT.npy --device cpu`'s.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "dgm.hpp"

int main(int argc, char **argv)
{
    if (argc != 5) {
        std::cerr << "usage: " << argv[0] << " CHECKPOINT N SEED OUT.npy\n";
        return 2;
    }
    try {
        dgmxx::Context ctx(std::strtoull(argv[3], nullptr, 10));
        dgmxx::Model model(ctx, argv[1]);
        const int64_t n = std::strtoll(argv[2], nullptr, 10);
        std::cout << "a " << model.kind() << " model, " << model.dim() << " values per sample (";
        for (size_t i = 0; i < model.sample_shape().size(); i++)
            std::cout << (i ? "x" : "") << model.sample_shape()[i];
        std::cout << ")\n";
        const std::vector<float> x = model.sample(n);
        try {
            std::cout << "default metric on the samples: " << model.score(x) << "\n";
        } catch (const dgmxx::Error &e) {
            if (e.status != DGM_STATUS_UNSUPPORTED) throw;
            std::cout << "no per-sample metric: " << e.what() << "\n";
        }
        const int64_t shape[2] = {n, model.dim()};  // as dgm sample writes it
        ctx.check(dgm_save_npy(ctx.get(), argv[4], x.data(), 2, shape), argv[4]);
        std::cout << "wrote " << n << " samples to " << argv[4] << "\n";
    } catch (const std::exception &e) {
        std::cerr << "embed_cpp: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
