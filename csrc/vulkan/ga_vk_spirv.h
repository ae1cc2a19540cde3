/* ga_vk_spirv.h - the Vulkan kernels, compiled from the kernels/ folder (.comp files) at build time. */
#ifndef GA_VK_SPIRV_H
#define GA_VK_SPIRV_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name; /* the .comp file's name without the extension */
    const uint32_t *words;
    size_t n_words;
} ga_vk_kernel;

/* NULL-terminated; empty when the build had no glslc (build/generated/ga_vk_spirv_data.c) */
extern const ga_vk_kernel ga_vk_kernels[];

#endif
