/* The convolution shapes of bench_conv and its PyTorch peer (peers/torch_conv.py keeps the
 * same list): each distinct convolution of the default UNet (28×28 images, channels
 * 32/64/64, two residual blocks per level, batch 128) and of the InfoGAN-style DCGAN of
 * Lucic et al.'s GAN study (google/compare_gan infogan.py, batch 64). */
#ifndef DGM_BENCH_CONV_SHAPES_H
#define DGM_BENCH_CONV_SHAPES_H

typedef struct conv_shape {
    const char *name;
    int n, c, h, w, o, k, stride, pad, transposed;
} conv_shape;

static const conv_shape conv_shapes[] = {
    {"unet_in_1to32_28", 128, 1, 28, 28, 32, 3, 1, 1, 0},
    {"unet_32to32_28", 128, 32, 28, 28, 32, 3, 1, 1, 0},
    {"unet_64to32_28", 128, 64, 28, 28, 32, 3, 1, 1, 0},
    {"unet_96to32_28", 128, 96, 28, 28, 32, 3, 1, 1, 0},
    {"unet_64to64_28", 128, 64, 28, 28, 64, 3, 1, 1, 0},
    {"unet_1x1_96to32_28", 128, 96, 28, 28, 32, 1, 1, 0, 0},
    {"unet_out_32to1_28", 128, 32, 28, 28, 1, 3, 1, 1, 0},
    {"unet_down_32_28to14", 128, 32, 28, 28, 32, 3, 2, 1, 0},
    {"unet_32to64_14", 128, 32, 14, 14, 64, 3, 1, 1, 0},
    {"unet_64to64_14", 128, 64, 14, 14, 64, 3, 1, 1, 0},
    {"unet_128to64_14", 128, 128, 14, 14, 64, 3, 1, 1, 0},
    {"unet_1x1_128to64_14", 128, 128, 14, 14, 64, 1, 1, 0, 0},
    {"unet_down_64_14to7", 128, 64, 14, 14, 64, 3, 2, 1, 0},
    {"unet_64to64_7", 128, 64, 7, 7, 64, 3, 1, 1, 0},
    {"unet_128to64_7", 128, 128, 7, 7, 64, 3, 1, 1, 0},
    {"dcgan_d_1to64_28to14", 64, 1, 28, 28, 64, 4, 2, 1, 0},
    {"dcgan_d_64to128_14to7", 64, 64, 14, 14, 128, 4, 2, 1, 0},
    {"dcgan_g_128to64_7to14", 64, 128, 7, 7, 64, 4, 2, 1, 1},
    {"dcgan_g_64to1_14to28", 64, 64, 14, 14, 1, 4, 2, 1, 1},
};

#define CONV_SHAPE_COUNT ((int)(sizeof conv_shapes / sizeof conv_shapes[0]))

#endif
