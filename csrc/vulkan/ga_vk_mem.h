/* ga_vk_mem.h - Vulkan buffers with their memory: device-local ones for what the kernels
 * read and write, host-visible ones (mapped) for staging, the chunk block and the logits. */
#ifndef GA_VK_MEM_H
#define GA_VK_MEM_H

#include "ga_vk.h"

#ifdef GA_HAVE_VULKAN_HEADERS
typedef struct {
    VkBuffer buf;
    VkDeviceMemory mem;
    void *map;      /* host-visible buffers: mapped for their lifetime; NULL otherwise */
    uint64_t bytes;
} ga_vk_mem;

/* A storage and transfer buffer of bytes: host = 0 in device-local memory (any memory where
 * the device has none), host = 1 in host-visible coherent memory, mapped.  An allocation the
 * device refuses is GA_ERR_DEVICE_MEMORY. */
ga_status ga_vk_mem_new(ga_vk_ctx *vk, uint64_t bytes, int host, ga_vk_mem *out, ga_error *err);
void ga_vk_mem_free(ga_vk_ctx *vk, ga_vk_mem *m);
#endif

#endif
