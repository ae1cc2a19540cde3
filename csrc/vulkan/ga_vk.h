/* ga_vk.h - the Vulkan loader, opened at run time, and one device to compute on.
 *
 * libvulkan.so.1 is dlopen()ed on first use, so the extension never links it: a
 * machine without a Vulkan loader imports gemma_accel and runs on the CPU.  The
 * Vulkan entry points the backend uses are loaded into one table of function
 * pointers (GA_VK_*_FNS below).  With GA_VK_VALIDATION=1 in the environment the
 * Khronos validation layer is enabled and every message it reports is counted
 * (ga_vk_validation_messages): the tests fail on any.
 */
#ifndef GA_VK_H
#define GA_VK_H

#include <stdint.h>

#include "ga_common.h"

typedef struct {
    char name[256];
    char type[16];          /* "discrete", "integrated", "virtual", "cpu", "other" */
    uint32_t api_version;   /* VK_MAKE_API_VERSION packed */
    uint64_t memory_bytes;  /* the largest device-local heap */
    uint32_t subgroup_size;
    int fp16, storage16, storage8, int_dot; /* shaderFloat16, 16/8-bit storage buffers, integer dot */
    uint64_t max_storage_range;            /* maxStorageBufferRange */
    uint64_t storage_align;                /* minStorageBufferOffsetAlignment */
    uint32_t max_shared_bytes;             /* maxComputeSharedMemorySize */
} ga_vk_device_info;

/* The devices of this machine (up to cap); *n = 0 and GA_OK when the loader is there but
 * has no device; GA_ERR_UNSUPPORTED naming the reason without a loader or headers. */
ga_status ga_vk_devices(ga_vk_device_info *out, int cap, int *n, ga_error *err);

/* Messages the validation layer reported since the process started (GA_VK_VALIDATION=1),
 * and the last one (empty when none). */
int64_t ga_vk_validation_messages(void);

/* Testing: the n-th queue submission from now (n >= 1) reports VK_ERROR_DEVICE_LOST instead
 * of running, as a driver does after a GPU hang or reset; 0 disarms.  ga_vk_fault_due() is
 * the backend's question before each submission. */
void ga_vk_inject_device_lost(int n);
int ga_vk_fault_due(void);
const char *ga_vk_last_validation_message(void);

#ifdef GA_HAVE_VULKAN_HEADERS
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#define GA_VK_INSTANCE_FNS(X)                                                                   \
    X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties)          \
    X(vkGetPhysicalDeviceProperties2) X(vkGetPhysicalDeviceFeatures2)                            \
    X(vkGetPhysicalDeviceMemoryProperties) X(vkGetPhysicalDeviceQueueFamilyProperties)           \
    X(vkCreateDevice) X(vkGetDeviceProcAddr) X(vkEnumerateDeviceExtensionProperties)

#define GA_VK_DEVICE_FNS(X)                                                                     \
    X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkCreateBuffer) X(vkDestroyBuffer)                  \
    X(vkGetBufferMemoryRequirements) X(vkAllocateMemory) X(vkFreeMemory) X(vkBindBufferMemory)   \
    X(vkMapMemory) X(vkUnmapMemory) X(vkCreateShaderModule) X(vkDestroyShaderModule)             \
    X(vkCreateDescriptorSetLayout) X(vkDestroyDescriptorSetLayout) X(vkCreatePipelineLayout)     \
    X(vkDestroyPipelineLayout) X(vkCreateComputePipelines) X(vkDestroyPipeline)                  \
    X(vkCreateDescriptorPool) X(vkDestroyDescriptorPool) X(vkAllocateDescriptorSets)             \
    X(vkUpdateDescriptorSets) X(vkResetDescriptorPool) X(vkCreateCommandPool)                    \
    X(vkDestroyCommandPool) X(vkAllocateCommandBuffers) X(vkBeginCommandBuffer)                  \
    X(vkEndCommandBuffer) X(vkResetCommandBuffer) X(vkCmdBindPipeline) X(vkCmdBindDescriptorSets) \
    X(vkCmdPushConstants) X(vkCmdDispatch) X(vkCmdPipelineBarrier) X(vkQueueSubmit)              \
    X(vkCreateFence) X(vkDestroyFence) X(vkWaitForFences) X(vkResetFences) X(vkDeviceWaitIdle)      \
    X(vkCmdCopyBuffer) X(vkCmdFillBuffer)

typedef struct {
#define GA_VK_FIELD(name) PFN_##name name;
    GA_VK_INSTANCE_FNS(GA_VK_FIELD)
    GA_VK_DEVICE_FNS(GA_VK_FIELD)
#undef GA_VK_FIELD
} ga_vk_fns;

/* One logical device with a compute queue. */
typedef struct {
    ga_vk_fns fn;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkPhysicalDeviceMemoryProperties mem;
    ga_vk_device_info info;
} ga_vk_ctx;

/* Opens device index (as ga_vk_devices lists them) with a compute queue. */
ga_status ga_vk_open(int index, ga_vk_ctx *ctx, ga_error *err);
void ga_vk_close(ga_vk_ctx *ctx);
#endif

#endif
