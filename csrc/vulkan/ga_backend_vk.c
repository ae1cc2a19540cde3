/* ga_backend_vk.c - the Vulkan backend: device buffers, compute pipelines, one queue
 * submission per eval chunk.
 *
 * Every op of a chunk is recorded into one command buffer (a dispatch, then a barrier),
 * submitted at end_chunk; the host waits on a fence and copies out only the output
 * (logits) rows the ops wrote.  Host-side f32 vectors an op needs (norm weights) are
 * copied into a per-chunk staging ring when the op is recorded.
 *
 * This first form runs the element ops (rms_norm, glu, residual_add, softcap) from
 * the kernels/ folder; supports() says no to the others, so a model stays on the CPU as a
 * whole (ga_model.c) until the matmul, attention and KV kernels land.  Buffers live in
 * host-visible memory (all of lavapipe's memory is; discrete GPUs will want device-local
 * memory with staging uploads).
 */
#include <stdlib.h>
#include <string.h>

#include "ga_backend.h"
#include "ga_vk.h"
#include "ga_vk_spirv.h"

#ifndef GA_HAVE_VULKAN_HEADERS

static ga_status vk_init(const ga_backend_params *p, const ga_hparams *hp, ga_backend **out, ga_error *err) {
    (void)p; (void)hp; (void)out;
    return ga_fail(err, GA_ERR_UNSUPPORTED, "this gemma_accel was built without the Vulkan headers");
}
static void vk_free(ga_backend *be) { (void)be; }
static int vk_supports(const ga_backend *be, ga_op op, int wtype) { (void)be; (void)op; (void)wtype; return 0; }
static ga_status vk_unavailable(ga_error *err) { return ga_fail(err, GA_ERR_UNSUPPORTED, "no Vulkan backend"); }
static ga_status vk_alloc(ga_backend *be, ga_mem_kind k, int l, int64_t r, int64_t w, ga_buf *o, ga_error *err) {
    (void)be; (void)k; (void)l; (void)r; (void)w; (void)o;
    return vk_unavailable(err);
}
static ga_status vk_write(ga_backend *be, ga_buf b, int64_t off, int64_t n, const float *s, ga_error *err) {
    (void)be; (void)b; (void)off; (void)n; (void)s;
    return vk_unavailable(err);
}
static ga_status vk_read(ga_backend *be, ga_buf b, int64_t off, int64_t n, float *d, ga_error *err) {
    (void)be; (void)b; (void)off; (void)n; (void)d;
    return vk_unavailable(err);
}
static ga_status vk_load_weights(ga_backend *be, ga_weights *w, ga_error *err) { (void)be; (void)w; return vk_unavailable(err); }
static ga_status vk_begin_chunk(ga_backend *be, const ga_chunk *c, float *o, ga_error *err) {
    (void)be; (void)c; (void)o;
    return vk_unavailable(err);
}
static ga_status vk_run(ga_backend *be, const ga_op_args *op, ga_error *err) { (void)be; (void)op; return vk_unavailable(err); }
static ga_status vk_end_chunk(ga_backend *be, ga_error *err) { (void)be; return vk_unavailable(err); }
static uint64_t vk_reserved(const ga_backend *be) { (void)be; return 0; }

#else

#define MAX_BUFS (16 + GA_MAX_LAYERS)
#define STAGE_BYTES ((uint64_t)8 << 20) /* host f32 vectors of one chunk's ops */
#define MAX_SETS 2048                     /* descriptor sets (ops) per chunk */
#define MAX_GROUPS_X 65535u

enum { K_RMS_NORM, K_GLU, K_ADD, K_SOFTCAP, K_COUNT };
static const struct {
    const char *name;
    uint32_t n_bind, push_bytes;
} KERNELS[K_COUNT] = {
    {"rms_norm", 3, 16}, {"glu", 2, 8}, {"add", 2, 4}, {"softcap", 1, 8},
};

typedef struct {
    VkBuffer buf;
    VkDeviceMemory mem;
    void *map;
    uint64_t bytes;
    int kind;
    int64_t floats; /* capacity (a KV buffer: K then V, 2 x rows x width) */
} vk_buf;

struct ga_backend {
    ga_vk_ctx vk;
    ga_hparams hp;
    ga_backend_params p;
    vk_buf bufs[MAX_BUFS];
    int n_bufs;
    vk_buf stage;
    uint64_t stage_used;
    VkDescriptorSetLayout dsl[K_COUNT];
    VkPipelineLayout layout[K_COUNT];
    VkPipeline pipe[K_COUNT];
    VkDescriptorPool pool;
    VkCommandPool cmd_pool;
    VkCommandBuffer cmd;
    VkFence fence;
    const ga_chunk *c;
    float *output;         /* where the output buffer's rows go at end_chunk */
    ga_buf output_buf;
    int64_t output_floats; /* how many of them this chunk's ops wrote */
    int recording, failed;
    uint64_t reserved;
};

static ga_status vk_fail(ga_error *err, VkResult r, const char *what) {
    if (r == VK_ERROR_DEVICE_LOST) return ga_fail(err, GA_ERR_UNSUPPORTED, "the Vulkan device was lost (%s)", what);
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
        return ga_fail(err, GA_ERR_NOMEM, "out of Vulkan memory (%s)", what);
    return ga_fail(err, GA_ERR_UNSUPPORTED, "%s failed (VkResult %d)", what, (int)r);
}

/* A buffer of bytes in host-visible, coherent memory, mapped for its lifetime. */
static ga_status make_buffer(ga_backend *be, uint64_t bytes, vk_buf *b, ga_error *err) {
    ga_vk_fns *f = &be->vk.fn;
    VkDevice dev = be->vk.device;
    if (bytes > be->vk.info.max_storage_range)
        return ga_fail(err, GA_ERR_UNSUPPORTED, "a buffer of %llu bytes exceeds the device's storage range of %llu",
                       (unsigned long long)bytes, (unsigned long long)be->vk.info.max_storage_range);
    const VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = bytes,
                                   .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
                                   .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = f->vkCreateBuffer(dev, &bi, NULL, &b->buf);
    if (r != VK_SUCCESS) return vk_fail(err, r, "vkCreateBuffer");
    VkMemoryRequirements req;
    f->vkGetBufferMemoryRequirements(dev, b->buf, &req);
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint32_t type = UINT32_MAX;
    for (uint32_t i = 0; i < be->vk.mem.memoryTypeCount && type == UINT32_MAX; i++)
        if ((req.memoryTypeBits & (1u << i)) && (be->vk.mem.memoryTypes[i].propertyFlags & want) == want) type = i;
    if (type == UINT32_MAX) {
        f->vkDestroyBuffer(dev, b->buf, NULL);
        b->buf = VK_NULL_HANDLE;
        return ga_fail(err, GA_ERR_UNSUPPORTED, "device %s has no host-visible coherent memory", be->vk.info.name);
    }
    const VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size,
                                     .memoryTypeIndex = type};
    if ((r = f->vkAllocateMemory(dev, &ai, NULL, &b->mem)) != VK_SUCCESS ||
        (r = f->vkBindBufferMemory(dev, b->buf, b->mem, 0)) != VK_SUCCESS ||
        (r = f->vkMapMemory(dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map)) != VK_SUCCESS) {
        if (b->mem) f->vkFreeMemory(dev, b->mem, NULL);
        f->vkDestroyBuffer(dev, b->buf, NULL);
        memset(b, 0, sizeof *b);
        return vk_fail(err, r, "allocating device memory");
    }
    b->bytes = bytes;
    return GA_OK;
}

static void free_buffer(ga_backend *be, vk_buf *b) {
    if (b->map) be->vk.fn.vkUnmapMemory(be->vk.device, b->mem);
    if (b->buf) be->vk.fn.vkDestroyBuffer(be->vk.device, b->buf, NULL);
    if (b->mem) be->vk.fn.vkFreeMemory(be->vk.device, b->mem, NULL);
    memset(b, 0, sizeof *b);
}

static ga_status make_pipelines(ga_backend *be, ga_error *err) {
    ga_vk_fns *f = &be->vk.fn;
    VkDevice dev = be->vk.device;
    for (int k = 0; k < K_COUNT; k++) {
        const ga_vk_kernel *src = NULL;
        for (int i = 0; ga_vk_kernels[i].name; i++)
            if (strcmp(ga_vk_kernels[i].name, KERNELS[k].name) == 0) src = &ga_vk_kernels[i];
        if (!src)
            return ga_fail(err, GA_ERR_UNSUPPORTED, "this build has no Vulkan kernel %s (was glslc missing?)",
                           KERNELS[k].name);
        VkDescriptorSetLayoutBinding binds[4];
        for (uint32_t i = 0; i < KERNELS[k].n_bind; i++)
            binds[i] = (VkDescriptorSetLayoutBinding){.binding = i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                      .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
        const VkDescriptorSetLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                                    .bindingCount = KERNELS[k].n_bind, .pBindings = binds};
        const VkPushConstantRange pr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = KERNELS[k].push_bytes};
        VkResult r = f->vkCreateDescriptorSetLayout(dev, &li, NULL, &be->dsl[k]);
        if (r != VK_SUCCESS) return vk_fail(err, r, "vkCreateDescriptorSetLayout");
        const VkPipelineLayoutCreateInfo pli = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                                .setLayoutCount = 1, .pSetLayouts = &be->dsl[k],
                                                .pushConstantRangeCount = 1, .pPushConstantRanges = &pr};
        if ((r = f->vkCreatePipelineLayout(dev, &pli, NULL, &be->layout[k])) != VK_SUCCESS)
            return vk_fail(err, r, "vkCreatePipelineLayout");
        const VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                             .codeSize = src->n_words * 4, .pCode = src->words};
        VkShaderModule mod;
        if ((r = f->vkCreateShaderModule(dev, &mi, NULL, &mod)) != VK_SUCCESS) return vk_fail(err, r, "vkCreateShaderModule");
        const VkComputePipelineCreateInfo ci = {
            .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
            .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                      .module = mod, .pName = "main"},
            .layout = be->layout[k],
        };
        r = f->vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &ci, NULL, &be->pipe[k]);
        f->vkDestroyShaderModule(dev, mod, NULL);
        if (r != VK_SUCCESS) return vk_fail(err, r, "vkCreateComputePipelines");
    }
    return GA_OK;
}

static void vk_free(ga_backend *be) {
    if (!be) return;
    ga_vk_fns *f = &be->vk.fn;
    VkDevice dev = be->vk.device;
    if (dev) {
        f->vkDeviceWaitIdle(dev);
        for (int i = 0; i < be->n_bufs; i++) free_buffer(be, &be->bufs[i]);
        free_buffer(be, &be->stage);
        for (int k = 0; k < K_COUNT; k++) {
            if (be->pipe[k]) f->vkDestroyPipeline(dev, be->pipe[k], NULL);
            if (be->layout[k]) f->vkDestroyPipelineLayout(dev, be->layout[k], NULL);
            if (be->dsl[k]) f->vkDestroyDescriptorSetLayout(dev, be->dsl[k], NULL);
        }
        if (be->pool) f->vkDestroyDescriptorPool(dev, be->pool, NULL);
        if (be->fence) f->vkDestroyFence(dev, be->fence, NULL);
        if (be->cmd_pool) f->vkDestroyCommandPool(dev, be->cmd_pool, NULL);
    }
    ga_vk_close(&be->vk);
    free(be);
}

static ga_status vk_init(const ga_backend_params *p, const ga_hparams *hp, ga_backend **out, ga_error *err) {
    ga_backend *be = calloc(1, sizeof *be);
    if (!be) return ga_fail(err, GA_ERR_NOMEM, "out of memory");
    be->hp = *hp;
    be->p = *p;
    be->output_buf = GA_BUF_NONE;
    ga_status st = ga_vk_open(p->device, &be->vk, err);
    if (st) { free(be); return st; }
    ga_vk_fns *f = &be->vk.fn;
    VkDevice dev = be->vk.device;
    const VkDescriptorPoolSize ps = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 4 * MAX_SETS};
    const VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = MAX_SETS,
                                           .poolSizeCount = 1, .pPoolSizes = &ps};
    const VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                         .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                         .queueFamilyIndex = be->vk.queue_family};
    const VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkResult r;
    if ((st = make_pipelines(be, err))) { vk_free(be); return st; }
    if ((r = f->vkCreateDescriptorPool(dev, &dpi, NULL, &be->pool)) != VK_SUCCESS ||
        (r = f->vkCreateCommandPool(dev, &cpi, NULL, &be->cmd_pool)) != VK_SUCCESS ||
        (r = f->vkCreateFence(dev, &fi, NULL, &be->fence)) != VK_SUCCESS) {
        vk_free(be);
        return vk_fail(err, r, "creating the command and descriptor pools");
    }
    const VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                            .commandPool = be->cmd_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                            .commandBufferCount = 1};
    if ((r = f->vkAllocateCommandBuffers(dev, &ai, &be->cmd)) != VK_SUCCESS) {
        vk_free(be);
        return vk_fail(err, r, "vkAllocateCommandBuffers");
    }
    if ((st = make_buffer(be, STAGE_BYTES, &be->stage, err))) { vk_free(be); return st; }
    be->reserved = STAGE_BYTES;
    *out = be;
    return GA_OK;
}

static int vk_supports(const ga_backend *be, ga_op op, int wtype) {
    (void)be; (void)wtype;
    return op == GA_OP_RMS_NORM || op == GA_OP_GLU || op == GA_OP_RESIDUAL_ADD || op == GA_OP_SOFTCAP;
}

/* ------------------------------------------------------------------ memory */

static ga_status vk_alloc(ga_backend *be, ga_mem_kind kind, int layer, int64_t rows, int64_t width, ga_buf *out,
                          ga_error *err) {
    (void)layer;
    if (be->n_bufs == MAX_BUFS) return ga_fail(err, GA_ERR_ARG, "the Vulkan backend has no more buffer handles");
    if (rows < 1 || width < 1 || rows > (INT64_C(1) << 40) / width)
        return ga_fail(err, GA_ERR_ARG, "buffer of %lld x %lld floats", (long long)rows, (long long)width);
    const int64_t floats = rows * width * (kind == GA_MEM_KV ? 2 : 1);
    const uint64_t bytes = (uint64_t)floats * sizeof(float);
    if (be->p.budget_bytes && be->reserved + bytes > be->p.budget_bytes)
        return ga_fail(err, GA_ERR_NOMEM, "the Vulkan backend needs %llu more bytes than its budget of %llu allows",
                       (unsigned long long)bytes, (unsigned long long)be->p.budget_bytes);
    vk_buf *b = &be->bufs[be->n_bufs];
    ga_status st = make_buffer(be, bytes, b, err);
    if (st) return st;
    memset(b->map, 0, bytes);
    b->kind = kind;
    b->floats = floats;
    be->reserved += bytes;
    *out = be->n_bufs++;
    return GA_OK;
}

static vk_buf *buf_of(ga_backend *be, ga_buf b) { return b >= 0 && b < be->n_bufs ? &be->bufs[b] : NULL; }

/* floats [off, off + n) of b; a KV buffer's K pages come first, then its V pages */
static float *span_of(ga_backend *be, ga_buf b, int64_t off, int64_t n, ga_error *err) {
    vk_buf *vb = buf_of(be, b);
    if (!vb || vb->kind == GA_MEM_OUTPUT) {
        ga_fail(err, GA_ERR_ARG, "buffer %d cannot be read or written from the host", (int)b);
        return NULL;
    }
    const int64_t half = vb->kind == GA_MEM_KV ? vb->floats / 2 : vb->floats;
    if (off < 0 || n < 0 || off > vb->floats - n || (off < half && off + n > half)) {
        ga_fail(err, GA_ERR_ARG, "floats %lld..%lld are outside buffer %d (%lld floats)", (long long)off,
                (long long)(off + n), (int)b, (long long)vb->floats);
        return NULL;
    }
    return (float *)vb->map + off;
}

static ga_status vk_write(ga_backend *be, ga_buf b, int64_t off, int64_t n, const float *src, ga_error *err) {
    if (be->recording) return ga_fail(err, GA_ERR_ARG, "a buffer cannot be written during a chunk");
    float *dst = span_of(be, b, off, n, err);
    if (!dst) return GA_ERR_ARG;
    memcpy(dst, src, (size_t)n * sizeof(float));
    return GA_OK;
}

static ga_status vk_read(ga_backend *be, ga_buf b, int64_t off, int64_t n, float *dst, ga_error *err) {
    if (be->recording) return ga_fail(err, GA_ERR_ARG, "a buffer cannot be read during a chunk");
    const float *src = span_of(be, b, off, n, err);
    if (!src) return GA_ERR_ARG;
    memcpy(dst, src, (size_t)n * sizeof(float));
    return GA_OK;
}

static uint64_t vk_reserved(const ga_backend *be) { return be->reserved; }

static ga_status vk_load_weights(ga_backend *be, ga_weights *w, ga_error *err) {
    (void)be; (void)w; (void)err;
    return GA_OK; /* no op of this form reads weight matrices */
}

/* ------------------------------------------------------------------ chunks */

static ga_status vk_begin_chunk(ga_backend *be, const ga_chunk *c, float *output, ga_error *err) {
    if (!c || c->T < 1 || c->T > be->p.n_batch)
        return ga_fail(err, GA_ERR_ARG, "a chunk of %d tokens (1..%d)", c ? c->T : 0, be->p.n_batch);
    ga_vk_fns *f = &be->vk.fn;
    VkResult r;
    if ((r = f->vkResetDescriptorPool(be->vk.device, be->pool, 0)) != VK_SUCCESS ||
        (r = f->vkResetCommandBuffer(be->cmd, 0)) != VK_SUCCESS)
        return vk_fail(err, r, "resetting the command buffer");
    const VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                         .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    if ((r = f->vkBeginCommandBuffer(be->cmd, &bi)) != VK_SUCCESS) return vk_fail(err, r, "vkBeginCommandBuffer");
    be->c = c;
    be->output = output;
    be->output_buf = GA_BUF_NONE;
    be->output_floats = 0;
    be->stage_used = 0;
    be->recording = 1;
    be->failed = 0;
    return GA_OK;
}

static ga_status vk_end_chunk(ga_backend *be, ga_error *err) {
    ga_vk_fns *f = &be->vk.fn;
    if (!be->recording) return ga_fail(err, GA_ERR_ARG, "end_chunk without begin_chunk");
    be->recording = 0;
    be->c = NULL;
    VkResult r = f->vkEndCommandBuffer(be->cmd);
    if (r != VK_SUCCESS) return vk_fail(err, r, "vkEndCommandBuffer");
    if (be->failed) return GA_OK; /* an op was refused: nothing runs */
    const VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                             .pCommandBuffers = &be->cmd};
    if ((r = f->vkQueueSubmit(be->vk.queue, 1, &si, be->fence)) != VK_SUCCESS) return vk_fail(err, r, "vkQueueSubmit");
    r = f->vkWaitForFences(be->vk.device, 1, &be->fence, VK_TRUE, UINT64_MAX);
    f->vkResetFences(be->vk.device, 1, &be->fence);
    if (r != VK_SUCCESS) return vk_fail(err, r, "waiting for the chunk");
    if (be->output && be->output_buf != GA_BUF_NONE && be->output_floats > 0)
        memcpy(be->output, be->bufs[be->output_buf].map, (size_t)be->output_floats * sizeof(float));
    return GA_OK;
}

/* The op may touch rows [row0, row0 + rows) of width floats in b. */
static ga_status check_rows(ga_backend *be, ga_buf b, int64_t row0, int64_t rows, int64_t width, const char *what,
                            ga_error *err) {
    vk_buf *vb = buf_of(be, b);
    if (!vb || vb->kind == GA_MEM_KV) return ga_fail(err, GA_ERR_ARG, "%s: no such buffer (%d)", what, (int)b);
    if (vb->kind == GA_MEM_OUTPUT && !be->output)
        return ga_fail(err, GA_ERR_ARG, "%s: no host memory for the output in this chunk", what);
    if (row0 < 0 || rows < 0 || width < 1 || row0 + rows > vb->floats / width || (row0 + rows) * width > UINT32_MAX)
        return ga_fail(err, GA_ERR_ARG, "%s: rows %lld..%lld of width %lld overrun a buffer of %lld floats", what,
                       (long long)row0, (long long)(row0 + rows), (long long)width, (long long)vb->floats);
    return GA_OK;
}

static void note_output(ga_backend *be, ga_buf b, int64_t end_float) {
    if (be->bufs[b].kind != GA_MEM_OUTPUT) return;
    be->output_buf = b;
    if (end_float > be->output_floats) be->output_floats = end_float;
}

/* Records kernel k over buffers binds[0..n_bind) with push constants, in groups, then a barrier. */
static ga_status record(ga_backend *be, int k, const VkBuffer *binds, const VkDeviceSize *offsets, const void *push,
                        uint32_t groups, ga_error *err) {
    ga_vk_fns *f = &be->vk.fn;
    VkDescriptorSet set;
    const VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                            .descriptorPool = be->pool, .descriptorSetCount = 1,
                                            .pSetLayouts = &be->dsl[k]};
    VkResult r = f->vkAllocateDescriptorSets(be->vk.device, &ai, &set);
    if (r != VK_SUCCESS) return ga_fail(err, GA_ERR_ARG, "more than %d ops in one chunk", MAX_SETS);
    VkDescriptorBufferInfo infos[4];
    VkWriteDescriptorSet writes[4];
    for (uint32_t i = 0; i < KERNELS[k].n_bind; i++) {
        infos[i] = (VkDescriptorBufferInfo){.buffer = binds[i], .offset = offsets ? offsets[i] : 0,
                                            .range = VK_WHOLE_SIZE};
        writes[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                           .dstBinding = i, .descriptorCount = 1,
                                           .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .pBufferInfo = &infos[i]};
    }
    f->vkUpdateDescriptorSets(be->vk.device, KERNELS[k].n_bind, writes, 0, NULL);
    f->vkCmdBindPipeline(be->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, be->pipe[k]);
    f->vkCmdBindDescriptorSets(be->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, be->layout[k], 0, 1, &set, 0, NULL);
    f->vkCmdPushConstants(be->cmd, be->layout[k], VK_SHADER_STAGE_COMPUTE_BIT, 0, KERNELS[k].push_bytes, push);
    /* more groups than one dimension holds go into rows of MAX_GROUPS_X (the kernels fold y in) */
    const uint32_t gx = groups < MAX_GROUPS_X ? groups : MAX_GROUPS_X, gy = (groups + gx - 1) / gx;
    f->vkCmdDispatch(be->cmd, gx, gy, 1);
    const VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                                .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                                .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    f->vkCmdPipelineBarrier(be->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                            &mb, 0, NULL, 0, NULL);
    return GA_OK;
}

/* Copies n host floats into this chunk's staging ring; *offset is where (256-aligned). */
static ga_status stage(ga_backend *be, const float *src, int64_t n, VkDeviceSize *offset, ga_error *err) {
    const uint64_t bytes = (uint64_t)n * sizeof(float), at = (be->stage_used + 255) & ~(uint64_t)255;
    if (at + bytes > be->stage.bytes)
        return ga_fail(err, GA_ERR_NOMEM, "the chunk's host vectors exceed the %llu-byte staging ring",
                       (unsigned long long)be->stage.bytes);
    memcpy((char *)be->stage.map + at, src, bytes);
    be->stage_used = at + bytes;
    *offset = at;
    return GA_OK;
}

static ga_status op_rms_norm(ga_backend *be, ga_buf src, int64_t src_row0, ga_buf dst, int64_t dst_row0, int T,
                             int64_t width, const float *norm, ga_error *err) {
    ga_status st;
    if ((st = check_rows(be, src, src_row0, T, width, "rms_norm input", err)) ||
        (st = check_rows(be, dst, dst_row0, T, width, "rms_norm output", err)))
        return st;
    if (!norm) return ga_fail(err, GA_ERR_ARG, "rms_norm without a weight");
    VkDeviceSize w_off = 0;
    if ((st = stage(be, norm, width, &w_off, err))) return st;
    const struct { uint32_t width, src_off, dst_off; float eps; } push = {
        (uint32_t)width, (uint32_t)(src_row0 * width), (uint32_t)(dst_row0 * width), be->hp.norm_eps};
    const VkBuffer binds[3] = {be->bufs[src].buf, be->stage.buf, be->bufs[dst].buf};
    const VkDeviceSize offs[3] = {0, w_off, 0};
    note_output(be, dst, (dst_row0 + T) * width);
    return record(be, K_RMS_NORM, binds, offs, &push, (uint32_t)T, err);
}

static uint32_t groups_for(int64_t n) { return (uint32_t)((n + 63) / 64); }

static ga_status vk_run(ga_backend *be, const ga_op_args *op, ga_error *err) {
    if (!be->recording) return ga_fail(err, GA_ERR_ARG, "%s outside a chunk", ga_op_names[op->op < GA_OP_COUNT ? op->op : 0]);
    ga_status st = GA_OK;
    if (op->T < 0 || op->T > be->p.n_batch) st = ga_fail(err, GA_ERR_ARG, "an op over %d rows", op->T);
    else if (op->T == 0) return GA_OK;
    else switch (op->op) {
    case GA_OP_RMS_NORM:
        st = op_rms_norm(be, op->src, op->src_row0, op->dst[0], op->dst_row0, op->T, op->width, op->norm, err);
        break;
    case GA_OP_GLU: {
        if ((st = check_rows(be, op->src, 0, op->T, op->width, "glu input", err)) ||
            (st = check_rows(be, op->dst[0], 0, op->T, op->width, "glu output", err)))
            break;
        const int64_t n = (int64_t)op->T * op->width;
        const uint32_t push[2] = {(uint32_t)n, (uint32_t)(be->hp.act_gelu != 0)};
        const VkBuffer binds[2] = {be->bufs[op->src].buf, be->bufs[op->dst[0]].buf};
        note_output(be, op->dst[0], n);
        st = record(be, K_GLU, binds, NULL, push, groups_for(n), err);
        break;
    }
    case GA_OP_RESIDUAL_ADD: {
        if ((st = check_rows(be, op->src, 0, op->T, op->width, "residual input", err)) ||
            (st = check_rows(be, op->dst[0], 0, op->T, op->width, "residual output", err)))
            break;
        if (op->norm && (st = op_rms_norm(be, op->src, 0, op->src, 0, op->T, op->width, op->norm, err))) break;
        const int64_t n = (int64_t)op->T * op->width;
        const uint32_t push[1] = {(uint32_t)n};
        const VkBuffer binds[2] = {be->bufs[op->src].buf, be->bufs[op->dst[0]].buf};
        note_output(be, op->dst[0], n);
        st = record(be, K_ADD, binds, NULL, push, groups_for(n), err);
        break;
    }
    case GA_OP_SOFTCAP: {
        if ((st = check_rows(be, op->dst[0], 0, op->T, op->width, "softcap", err))) break;
        if (!(op->cap > 0)) { st = ga_fail(err, GA_ERR_ARG, "softcap needs a cap > 0"); break; }
        const int64_t n = (int64_t)op->T * op->width;
        const struct { uint32_t n; float cap; } push = {(uint32_t)n, op->cap};
        const VkBuffer binds[1] = {be->bufs[op->dst[0]].buf};
        note_output(be, op->dst[0], n);
        st = record(be, K_SOFTCAP, binds, NULL, &push, groups_for(n), err);
        break;
    }
    default:
        st = ga_fail(err, GA_ERR_UNSUPPORTED, "the Vulkan backend has no %s op yet",
                     op->op < GA_OP_COUNT ? ga_op_names[op->op] : "such");
    }
    if (st) be->failed = 1;
    return st;
}
#endif

const ga_backend_i ga_backend_vulkan = {
    .name = "vulkan",
    .init = vk_init,
    .free = vk_free,
    .supports = vk_supports,
    .alloc = vk_alloc,
    .write = vk_write,
    .read = vk_read,
    .load_weights = vk_load_weights,
    .begin_chunk = vk_begin_chunk,
    .run = vk_run,
    .end_chunk = vk_end_chunk,
    .reserved_bytes = vk_reserved,
};
