/* ga_vk_loader.c - libvulkan opened at run time, instances, devices (ga_vk.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_vk.h"

static atomic_llong g_messages;
static char g_last_message[512];

int64_t ga_vk_validation_messages(void) { return (int64_t)atomic_load(&g_messages); }
const char *ga_vk_last_validation_message(void) { return g_last_message; }

static atomic_int g_fault_countdown;

void ga_vk_inject_device_lost(int n) { atomic_store(&g_fault_countdown, n > 0 ? n : 0); }

int ga_vk_fault_due(void) {
    int n = atomic_load(&g_fault_countdown);
    while (n > 0 && !atomic_compare_exchange_weak(&g_fault_countdown, &n, n - 1)) {}
    return n == 1;
}

#ifndef GA_HAVE_VULKAN_HEADERS

ga_status ga_vk_devices(ga_vk_device_info *out, int cap, int *n, ga_error *err) {
    (void)out; (void)cap;
    *n = 0;
    return ga_fail(err, GA_ERR_UNSUPPORTED, "this gemma_accel was built without the Vulkan headers");
}

#else
#include <dlfcn.h>
#include <pthread.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static void *g_lib;
static PFN_vkGetInstanceProcAddr g_get_proc;
static char g_lib_error[256];

/* The loader, opened once per process (never closed: drivers keep threads and state). */
static PFN_vkGetInstanceProcAddr loader(ga_error *err) {
    pthread_mutex_lock(&g_lock);
    if (!g_lib && !g_lib_error[0]) {
        g_lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!g_lib) {
            const char *e = dlerror();
            snprintf(g_lib_error, sizeof g_lib_error, "no Vulkan loader (libvulkan.so.1: %s)", e ? e : "not found");
        } else if (!(g_get_proc = (PFN_vkGetInstanceProcAddr)dlsym(g_lib, "vkGetInstanceProcAddr"))) {
            snprintf(g_lib_error, sizeof g_lib_error, "the Vulkan loader has no vkGetInstanceProcAddr");
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (!g_get_proc) ga_fail(err, GA_ERR_UNSUPPORTED, "%s", g_lib_error);
    return g_get_proc;
}

static int validation_wanted(void) {
    const char *v = getenv("GA_VK_VALIDATION");
    return v && *v && strcmp(v, "0") != 0;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                 VkDebugUtilsMessageTypeFlagsEXT types,
                                                 const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
    (void)types; (void)user;
    if (severity & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) {
        atomic_fetch_add(&g_messages, 1);
        snprintf(g_last_message, sizeof g_last_message, "%s", data && data->pMessage ? data->pMessage : "?");
    }
    return VK_FALSE;
}

/* An instance (with the validation layer and a messenger when GA_VK_VALIDATION=1). */
static ga_status make_instance(ga_vk_ctx *c, ga_error *err) {
    PFN_vkGetInstanceProcAddr gip = loader(err);
    if (!gip) return GA_ERR_UNSUPPORTED;
    PFN_vkCreateInstance create = (PFN_vkCreateInstance)gip(NULL, "vkCreateInstance");
    if (!create) return ga_fail(err, GA_ERR_UNSUPPORTED, "the Vulkan loader has no vkCreateInstance");
    const VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "gemma_accel",
                                   .apiVersion = VK_API_VERSION_1_2};
    const char *layers[] = {"VK_LAYER_KHRONOS_validation"};
    const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    const int validate = validation_wanted();
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    if (validate) {
        ci.enabledLayerCount = 1;
        ci.ppEnabledLayerNames = layers;
        ci.enabledExtensionCount = 1;
        ci.ppEnabledExtensionNames = exts;
    }
    VkResult r = create(&ci, NULL, &c->instance);
    if (r != VK_SUCCESS)
        return ga_fail(err, GA_ERR_UNSUPPORTED, "vkCreateInstance failed (%d)%s", (int)r,
                       validate ? ": is the Khronos validation layer installed (GA_VK_VALIDATION=1)?" : "");
#define GA_VK_LOAD(name)                                                                          \
    if (!(c->fn.name = (PFN_##name)gip(c->instance, #name)))                                      \
        return ga_fail(err, GA_ERR_UNSUPPORTED, "the Vulkan loader lacks " #name);
    GA_VK_INSTANCE_FNS(GA_VK_LOAD)
#undef GA_VK_LOAD
    if (validate) {
        PFN_vkCreateDebugUtilsMessengerEXT mk =
            (PFN_vkCreateDebugUtilsMessengerEXT)gip(c->instance, "vkCreateDebugUtilsMessengerEXT");
        const VkDebugUtilsMessengerCreateInfoEXT mi = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = on_message,
        };
        if (!mk || mk(c->instance, &mi, NULL, &c->messenger) != VK_SUCCESS)
            return ga_fail(err, GA_ERR_UNSUPPORTED, "could not attach to the validation layer");
    }
    return GA_OK;
}

static void destroy_instance(ga_vk_ctx *c) {
    if (!c->instance) return;
    if (c->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT rm =
            (PFN_vkDestroyDebugUtilsMessengerEXT)g_get_proc(c->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (rm) rm(c->instance, c->messenger, NULL);
    }
    c->fn.vkDestroyInstance(c->instance, NULL);
    c->instance = NULL;
}

static void describe(const ga_vk_ctx *c, VkPhysicalDevice pd, ga_vk_device_info *d) {
    memset(d, 0, sizeof *d);
    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sub};
    c->fn.vkGetPhysicalDeviceProperties2(pd, &p2);
    const VkPhysicalDeviceProperties *p = &p2.properties;
    snprintf(d->name, sizeof d->name, "%s", p->deviceName);
    const char *type = "other";
    switch (p->deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: type = "discrete"; break;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: type = "integrated"; break;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: type = "virtual"; break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: type = "cpu"; break;
    default: break;
    }
    snprintf(d->type, sizeof d->type, "%s", type);
    d->api_version = p->apiVersion;
    d->subgroup_size = sub.subgroupSize;
    d->max_storage_range = p->limits.maxStorageBufferRange;
    d->max_shared_bytes = p->limits.maxComputeSharedMemorySize;
    d->storage_align = p->limits.minStorageBufferOffsetAlignment;
    VkPhysicalDeviceMemoryProperties mem;
    c->fn.vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t h = 0; h < mem.memoryHeapCount; h++)
        if ((mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && mem.memoryHeaps[h].size > d->memory_bytes)
            d->memory_bytes = mem.memoryHeaps[h].size;
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, .pNext = &f12};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
    if (VK_API_VERSION_MINOR(p->apiVersion) >= 2 || VK_API_VERSION_MAJOR(p->apiVersion) > 1) {
        c->fn.vkGetPhysicalDeviceFeatures2(pd, &f2);
        d->fp16 = f12.shaderFloat16 != 0;
        d->storage16 = f11.storageBuffer16BitAccess != 0;
        d->storage8 = f12.storageBuffer8BitAccess != 0;
    }
    uint32_t n_ext = 0;
    if (c->fn.vkEnumerateDeviceExtensionProperties(pd, NULL, &n_ext, NULL) == VK_SUCCESS && n_ext > 0) {
        VkExtensionProperties *ext = calloc(n_ext, sizeof *ext);
        if (ext && c->fn.vkEnumerateDeviceExtensionProperties(pd, NULL, &n_ext, ext) == VK_SUCCESS)
            for (uint32_t i = 0; i < n_ext; i++)
                if (strcmp(ext[i].extensionName, "VK_KHR_shader_integer_dot_product") == 0) d->int_dot = 1;
        free(ext);
    }
}

#define MAX_DEVICES 16

ga_status ga_vk_devices(ga_vk_device_info *out, int cap, int *n, ga_error *err) {
    *n = 0;
    ga_vk_ctx c;
    memset(&c, 0, sizeof c);
    ga_status st = make_instance(&c, err);
    if (st) { destroy_instance(&c); return st; }
    uint32_t count = MAX_DEVICES;
    VkPhysicalDevice pds[MAX_DEVICES];
    VkResult r = c.fn.vkEnumeratePhysicalDevices(c.instance, &count, pds);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) count = 0;
    for (uint32_t i = 0; i < count && (int)i < cap; i++) describe(&c, pds[i], &out[(*n)++]);
    destroy_instance(&c);
    return GA_OK;
}

ga_status ga_vk_open(int index, ga_vk_ctx *c, ga_error *err) {
    memset(c, 0, sizeof *c);
    ga_status st = make_instance(c, err);
    if (st) { destroy_instance(c); return st; }
    uint32_t count = MAX_DEVICES;
    VkPhysicalDevice pds[MAX_DEVICES];
    VkResult r = c->fn.vkEnumeratePhysicalDevices(c->instance, &count, pds);
    if ((r != VK_SUCCESS && r != VK_INCOMPLETE) || count == 0) {
        destroy_instance(c);
        return ga_fail(err, GA_ERR_UNSUPPORTED, "no Vulkan device");
    }
    if (index < 0 || (uint32_t)index >= count) {
        destroy_instance(c);
        return ga_fail(err, GA_ERR_ARG, "no Vulkan device %d (this machine has %u)", index, count);
    }
    c->phys = pds[index];
    describe(c, c->phys, &c->info);
    if (VK_API_VERSION_MAJOR(c->info.api_version) == 1 && VK_API_VERSION_MINOR(c->info.api_version) < 2) {
        destroy_instance(c);
        return ga_fail(err, GA_ERR_UNSUPPORTED, "Vulkan device %s supports Vulkan 1.%u; 1.2 is needed", c->info.name,
                       VK_API_VERSION_MINOR(c->info.api_version));
    }
    c->fn.vkGetPhysicalDeviceMemoryProperties(c->phys, &c->mem);
    uint32_t n_fam = 0;
    c->fn.vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &n_fam, NULL);
    VkQueueFamilyProperties fams[32];
    if (n_fam > 32) n_fam = 32;
    c->fn.vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &n_fam, fams);
    c->queue_family = UINT32_MAX;
    for (uint32_t i = 0; i < n_fam && c->queue_family == UINT32_MAX; i++)
        if (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT) c->queue_family = i;
    if (c->queue_family == UINT32_MAX) {
        destroy_instance(c);
        return ga_fail(err, GA_ERR_UNSUPPORTED, "Vulkan device %s has no compute queue", c->info.name);
    }
    const float prio = 1.0f;
    const VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                        .queueFamilyIndex = c->queue_family, .queueCount = 1,
                                        .pQueuePriorities = &prio};
    const VkDeviceCreateInfo di = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1,
                                   .pQueueCreateInfos = &qi};
    if ((r = c->fn.vkCreateDevice(c->phys, &di, NULL, &c->device)) != VK_SUCCESS) {
        destroy_instance(c);
        return ga_fail(err, GA_ERR_UNSUPPORTED, "vkCreateDevice failed on %s (%d)", c->info.name, (int)r);
    }
#define GA_VK_LOAD(name)                                                                          \
    if (!(c->fn.name = (PFN_##name)c->fn.vkGetDeviceProcAddr(c->device, #name))) {                \
        ga_vk_close(c);                                                                           \
        return ga_fail(err, GA_ERR_UNSUPPORTED, "the Vulkan driver lacks " #name);                \
    }
    GA_VK_DEVICE_FNS(GA_VK_LOAD)
#undef GA_VK_LOAD
    c->fn.vkGetDeviceQueue(c->device, c->queue_family, 0, &c->queue);
    return GA_OK;
}

void ga_vk_close(ga_vk_ctx *c) {
    if (c->device && c->fn.vkDestroyDevice) c->fn.vkDestroyDevice(c->device, NULL);
    c->device = NULL;
    destroy_instance(c);
}
#endif
