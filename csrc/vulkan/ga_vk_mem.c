/* ga_vk_mem.c - buffers and their memory types (ga_vk_mem.h). */
#include <string.h>

#include "ga_vk_mem.h"

#ifdef GA_HAVE_VULKAN_HEADERS
/* The first memory type allowed by bits with all of want; with prefer too if there is one. */
static uint32_t pick_type(const VkPhysicalDeviceMemoryProperties *mp, uint32_t bits, VkMemoryPropertyFlags want,
                          VkMemoryPropertyFlags prefer) {
    uint32_t found = UINT32_MAX;
    for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
        const VkMemoryPropertyFlags f = mp->memoryTypes[i].propertyFlags;
        if (!(bits & (1u << i)) || (f & want) != want) continue;
        if ((f & prefer) == prefer) return i;
        if (found == UINT32_MAX) found = i;
    }
    return found;
}

ga_status ga_vk_mem_new(ga_vk_ctx *vk, uint64_t bytes, int host, ga_vk_mem *m, ga_error *err) {
    ga_vk_fns *f = &vk->fn;
    memset(m, 0, sizeof *m);
    const VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = bytes ? bytes : 4,
                                   .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                            VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                   .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = f->vkCreateBuffer(vk->device, &bi, NULL, &m->buf);
    if (r != VK_SUCCESS) {
        m->buf = VK_NULL_HANDLE;
        return r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY
                   ? ga_fail(err, GA_ERR_DEVICE_MEMORY, "a buffer of %llu bytes", (unsigned long long)bytes)
                   : ga_fail(err, GA_ERR_DEVICE, "vkCreateBuffer of %llu bytes failed (VkResult %d)",
                             (unsigned long long)bytes, (int)r);
    }
    VkMemoryRequirements req;
    f->vkGetBufferMemoryRequirements(vk->device, m->buf, &req);
    const uint32_t type =
        host ? pick_type(&vk->mem, req.memoryTypeBits,
                         VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                         VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
             : pick_type(&vk->mem, req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type == UINT32_MAX) {
        ga_vk_mem_free(vk, m);
        return ga_fail(err, GA_ERR_DEVICE, "device %s has no %s memory for a buffer", vk->info.name,
                       host ? "host-visible coherent" : "suitable");
    }
    const VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size,
                                     .memoryTypeIndex = type};
    if ((r = f->vkAllocateMemory(vk->device, &ai, NULL, &m->mem)) != VK_SUCCESS) {
        m->mem = VK_NULL_HANDLE;
        ga_vk_mem_free(vk, m);
        return ga_fail(err, r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY
                                ? GA_ERR_DEVICE_MEMORY : GA_ERR_DEVICE,
                       "allocating %llu bytes of %s memory failed (VkResult %d)", (unsigned long long)bytes,
                       host ? "host-visible" : "device", (int)r);
    }
    if ((r = f->vkBindBufferMemory(vk->device, m->buf, m->mem, 0)) != VK_SUCCESS ||
        (host && (r = f->vkMapMemory(vk->device, m->mem, 0, VK_WHOLE_SIZE, 0, &m->map)) != VK_SUCCESS)) {
        ga_vk_mem_free(vk, m);
        return ga_fail(err, GA_ERR_DEVICE, "binding or mapping %llu bytes failed (VkResult %d)",
                       (unsigned long long)bytes, (int)r);
    }
    m->bytes = bytes;
    return GA_OK;
}

void ga_vk_mem_free(ga_vk_ctx *vk, ga_vk_mem *m) {
    if (m->map) vk->fn.vkUnmapMemory(vk->device, m->mem);
    if (m->buf) vk->fn.vkDestroyBuffer(vk->device, m->buf, NULL);
    if (m->mem) vk->fn.vkFreeMemory(vk->device, m->mem, NULL);
    memset(m, 0, sizeof *m);
}
#endif
