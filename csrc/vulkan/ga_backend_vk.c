/* ga_backend_vk.c - the Vulkan backend: weights uploaded once, activations and the KV
 * cache in device memory, one queue submission per eval chunk.
 *
 * Every op of a chunk is recorded into one command buffer (dispatches separated by
 * barriers) and submitted at end_chunk; the host waits on a fence and copies out only
 * the output (logits) rows the ops wrote, from host-visible memory the head wrote into.
 * What the kernels need of the chunk (token ids, positions, each sequence's KV block
 * table, the RoPE cos/sin rows) is written into a host block at begin_chunk and copied
 * to the device as the chunk's first command (kernels/chunk.glsl has the layout).
 *
 * Weights stay in their stored block formats: the matmul and get_rows kernels dequantize
 * in registers (kernels/quant.glsl), one SPIR-V variant per type.  A tensor larger than
 * the device's maxStorageBufferRange (lavapipe: 128 MiB; the default model's Q8_0
 * embedding is 170 MiB) is bound in row ranges, one dispatch per range.
 *
 * Every op checks its buffers, rows, layers and KV pages on the host before recording:
 * a shader never sees an index the host has not checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_backend.h"
#include "ga_ops.h"
#include "ga_types.h"
#include "ga_vk.h"
#include "ga_vk_mem.h"
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
#define MAX_PARTS 16                      /* host-visible parts of one output buffer */
#define STAGE_BYTES ((uint64_t)4 << 20)   /* host f32 vectors of one chunk's ops (tests' norms) */
#define UPLOAD_BYTES ((uint64_t)16 << 20) /* the staging buffer of uploads and reads */
#define MAX_SETS 4096                     /* descriptor sets (dispatches) per chunk */
#define MAX_BINDS 9
#define MAX_GROUPS_X 65535u
#define MV_MAX_T 8                        /* matvec.comp's MV_TOKENS: more tokens take matmul.comp */
#define MAX_HEAD_DIM 512                  /* attention.comp's 8 x WG dimensions per invocation */
#define ROPE_MAX 8                        /* distinct (base, scale, head_dim) of a model's layers */

/* the block types with matmul and get_rows kernels, by SPIR-V name suffix */
static const struct { int type; const char *suffix; } WTYPES[] = {
    {GA_TYPE_F32, "f32"},   {GA_TYPE_F16, "f16"},   {GA_TYPE_BF16, "bf16"}, {GA_TYPE_Q4_0, "q4_0"},
    {GA_TYPE_Q4_1, "q4_1"}, {GA_TYPE_Q5_0, "q5_0"}, {GA_TYPE_Q5_1, "q5_1"}, {GA_TYPE_Q8_0, "q8_0"},
    {GA_TYPE_Q4_K, "q4_k"}, {GA_TYPE_Q5_K, "q5_k"}, {GA_TYPE_Q6_K, "q6_k"},
};
#define N_WTYPES ((int)(sizeof WTYPES / sizeof WTYPES[0]))

enum { P_RMS_NORM, P_GLU, P_ADD, P_SOFTCAP, P_QK_ROPE, P_ATTENTION, P_TYPED };
enum { T_GET_ROWS, T_MATVEC, T_MATMUL, T_MATVEC_ROWS, T_KINDS };
#define P_COUNT (P_TYPED + T_KINDS * N_WTYPES)
static const struct { const char *name; uint32_t n_bind, push_bytes; } PIPES[P_TYPED + T_KINDS] = {
    {"rms_norm", 3, 16}, {"glu", 2, 8}, {"add", 2, 4}, {"softcap", 1, 8}, {"qk_rope", 9, 48},
    {"attention", 5, 44}, {"get_rows", 3, 28}, {"matvec", 3, 36}, {"matmul", 3, 36}, {"matvec_rows", 3, 36},
};

static int wtype_index(int type) {
    for (int i = 0; i < N_WTYPES; i++)
        if (WTYPES[i].type == type) return i;
    return -1;
}

typedef struct {
    int kind;
    int64_t rows, width;  /* KV: positions x floats per position, in each of its two parts (K, V) */
    int64_t part_rows;    /* rows per part */
    int n_parts;
    ga_vk_mem part[MAX_PARTS];
} vk_buf;

typedef struct {
    const void *data; /* the host weight it copies (tied embeddings share one) */
    int type;
    int64_t rows, cols;
    uint64_t row_bytes;
    int64_t part_rows; /* rows per storage binding */
    ga_vk_mem mem;
} vk_weight;

typedef struct {
    const float *host;
    int64_t n;
    uint64_t off; /* bytes into norm_mem */
} vk_norm;

typedef struct { VkBuffer buf; VkDeviceSize off, range; } vk_bind;

struct ga_backend {
    ga_vk_ctx vk;
    ga_hparams hp;
    ga_backend_params p;
    uint64_t max_range, align; /* the binding range the kernels split at; offset alignment */
    vk_buf bufs[MAX_BUFS];
    int n_bufs;
    vk_weight *weights;
    int n_weights;
    vk_norm *norms;
    int n_norms;
    ga_vk_mem norm_mem;
    ga_vk_mem upload;                 /* host-visible: uploads and reads go through it */
    ga_vk_mem chunk_host, chunk_dev;  /* the chunk block (kernels/chunk.glsl) */
    int64_t tab_off, tab_cap;         /* ints: where the block tables start, and room for */
    struct { float base, scale; int d; uint64_t off; } rope[ROPE_MAX]; /* cos/sin rows at byte off */
    int n_rope, rope_of[GA_MAX_LAYERS];
    int64_t half_max;
    ga_vk_mem stage;
    uint64_t stage_used;
    VkDescriptorSetLayout dsl[P_COUNT];
    VkPipelineLayout layout[P_COUNT];
    VkPipeline pipe[P_COUNT];
    VkDescriptorPool pool;
    VkCommandPool cmd_pool;
    VkCommandBuffer cmd, xcmd; /* the chunk's commands; uploads and reads */
    VkFence fence;
    const ga_chunk *c;
    float *output;             /* where the output buffer's rows go at end_chunk */
    ga_buf output_buf;
    int64_t output_floats;     /* how many of them this chunk's ops wrote */
    int mv_kind;               /* decode matvec: T_MATVEC (GPUs) or T_MATVEC_ROWS (CPU devices) */
    int recording, failed, lost;
    uint64_t reserved, device_bytes; /* all memory; device-local memory */
};

static ga_status vk_fail(ga_backend *be, ga_error *err, VkResult r, const char *what) {
    if (r == VK_ERROR_DEVICE_LOST) {
        be->lost = 1;
        return ga_fail(err, GA_ERR_DEVICE, "the Vulkan device %s was lost (%s); load the model again",
                       be->vk.info.name, what);
    }
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
        return ga_fail(err, GA_ERR_DEVICE_MEMORY, "out of Vulkan memory (%s)", what);
    return ga_fail(err, GA_ERR_DEVICE, "%s failed (VkResult %d)", what, (int)r);
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

/* Device memory for bytes more; the error says what was needed and what is available.  The
 * budget is checked once for the whole model, in load_weights (the buffers come first). */
static ga_status device_mem(ga_backend *be, uint64_t bytes, int host, ga_vk_mem *m, const char *what,
                            ga_error *err) {
    const uint64_t heap = be->vk.info.memory_bytes;
    if (!host && heap && be->device_bytes + bytes > heap)
        return ga_fail(err, GA_ERR_DEVICE_MEMORY,
                       "%s needs %.1f MiB of device memory in all (%.1f MiB more for %s); it has %.1f MiB",
                       be->vk.info.name, mib(be->device_bytes + bytes), mib(bytes), what, mib(heap));
    ga_error e2;
    ga_status st = ga_vk_mem_new(&be->vk, bytes, host, m, &e2);
    if (st == GA_ERR_DEVICE_MEMORY)
        return ga_fail(err, st, "%s: out of device memory allocating %.1f MiB for %s (%.1f MiB allocated; %.1f MiB "
                       "available in its largest heap)", be->vk.info.name, mib(bytes), what, mib(be->device_bytes),
                       mib(heap));
    if (st) return ga_fail(err, st, "%s", e2.msg);
    be->reserved += bytes;
    if (!host) be->device_bytes += bytes;
    return GA_OK;
}

/* ---------------------------------------------------------------- submissions */

static ga_status lost_error(ga_backend *be, ga_error *err) {
    return ga_fail(err, GA_ERR_DEVICE, "the Vulkan device %s was lost; load the model again", be->vk.info.name);
}

static ga_status begin_commands(ga_backend *be, VkCommandBuffer cmd, ga_error *err) {
    ga_vk_fns *f = &be->vk.fn;
    VkResult r;
    if ((r = f->vkResetCommandBuffer(cmd, 0)) != VK_SUCCESS) return vk_fail(be, err, r, "vkResetCommandBuffer");
    const VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                         .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    if ((r = f->vkBeginCommandBuffer(cmd, &bi)) != VK_SUCCESS) return vk_fail(be, err, r, "vkBeginCommandBuffer");
    /* what earlier submissions wrote (uploads, the last chunk) is visible to this one */
    const VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                                .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                                .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                                 VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    f->vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL,
                            0, NULL);
    return GA_OK;
}

static void barrier(ga_backend *be, VkCommandBuffer cmd, VkPipelineStageFlags src, VkAccessFlags src_access,
                    VkPipelineStageFlags dst, VkAccessFlags dst_access) {
    const VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src_access,
                                .dstAccessMask = dst_access};
    be->vk.fn.vkCmdPipelineBarrier(cmd, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

/* Ends cmd (the host reads what it wrote), submits it and waits. */
static ga_status submit_wait(ga_backend *be, VkCommandBuffer cmd, const char *what, ga_error *err) {
    ga_vk_fns *f = &be->vk.fn;
    barrier(be, cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
            VK_ACCESS_HOST_READ_BIT);
    VkResult r = f->vkEndCommandBuffer(cmd);
    if (r != VK_SUCCESS) return vk_fail(be, err, r, "vkEndCommandBuffer");
    if (be->lost) return lost_error(be, err);
    const VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
    if (ga_vk_fault_due()) return vk_fail(be, err, VK_ERROR_DEVICE_LOST, what);
    if ((r = f->vkQueueSubmit(be->vk.queue, 1, &si, be->fence)) != VK_SUCCESS) return vk_fail(be, err, r, what);
    r = f->vkWaitForFences(be->vk.device, 1, &be->fence, VK_TRUE, UINT64_MAX);
    f->vkResetFences(be->vk.device, 1, &be->fence);
    return r == VK_SUCCESS ? GA_OK : vk_fail(be, err, r, what);
}

/* bytes between host memory and dev at off, through the upload buffer (to_device: host -> dev) */
static ga_status transfer(ga_backend *be, VkBuffer dev, uint64_t off, void *host, uint64_t bytes, int to_device,
                          ga_error *err) {
    ga_status st;
    for (uint64_t done = 0; done < bytes;) {
        const uint64_t n = bytes - done < be->upload.bytes ? bytes - done : be->upload.bytes;
        if (to_device) memcpy(be->upload.map, (char *)host + done, n);
        if ((st = begin_commands(be, be->xcmd, err))) return st;
        const VkBufferCopy region = {.srcOffset = to_device ? 0 : off + done, .dstOffset = to_device ? off + done : 0,
                                     .size = n};
        be->vk.fn.vkCmdCopyBuffer(be->xcmd, to_device ? be->upload.buf : dev, to_device ? dev : be->upload.buf, 1,
                                  &region);
        if ((st = submit_wait(be, be->xcmd, to_device ? "an upload" : "a read", err))) return st;
        if (!to_device) memcpy((char *)host + done, be->upload.map, n);
        done += n;
    }
    return GA_OK;
}

/* ----------------------------------------------------------------- pipelines */

/* pipeline id's kind (its PIPES entry), and its SPIR-V module: "<kind>" or "<kind>_<weight type>" */
static int pipe_kind(int id) { return id < P_TYPED ? id : P_TYPED + (id - P_TYPED) % T_KINDS; }

static const ga_vk_kernel *find_kernel(int id, char *name, size_t cap) {
    const int kind = pipe_kind(id);
    if (id < P_TYPED) snprintf(name, cap, "%s", PIPES[kind].name);
    else snprintf(name, cap, "%s_%s", PIPES[kind].name, WTYPES[(id - P_TYPED) / T_KINDS].suffix);
    for (int i = 0; ga_vk_kernels[i].name; i++)
        if (strcmp(ga_vk_kernels[i].name, name) == 0) return &ga_vk_kernels[i];
    return NULL;
}

static ga_status get_pipe(ga_backend *be, int id, ga_error *err) {
    if (be->pipe[id]) return GA_OK;
    ga_vk_fns *f = &be->vk.fn;
    VkDevice dev = be->vk.device;
    const int kind = pipe_kind(id);
    char name[64];
    const ga_vk_kernel *src = find_kernel(id, name, sizeof name);
    if (!src) return ga_fail(err, GA_ERR_UNSUPPORTED, "this build has no Vulkan kernel %s (was glslc missing?)", name);
    VkDescriptorSetLayoutBinding binds[MAX_BINDS];
    for (uint32_t i = 0; i < PIPES[kind].n_bind; i++)
        binds[i] = (VkDescriptorSetLayoutBinding){.binding = i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                  .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    const VkDescriptorSetLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                                .bindingCount = PIPES[kind].n_bind, .pBindings = binds};
    const VkPushConstantRange pr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = PIPES[kind].push_bytes};
    VkResult r;
    if (!be->dsl[id] && (r = f->vkCreateDescriptorSetLayout(dev, &li, NULL, &be->dsl[id])) != VK_SUCCESS)
        return vk_fail(be, err, r, "vkCreateDescriptorSetLayout");
    const VkPipelineLayoutCreateInfo pli = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                            .setLayoutCount = 1, .pSetLayouts = &be->dsl[id],
                                            .pushConstantRangeCount = 1, .pPushConstantRanges = &pr};
    if (!be->layout[id] && (r = f->vkCreatePipelineLayout(dev, &pli, NULL, &be->layout[id])) != VK_SUCCESS)
        return vk_fail(be, err, r, "vkCreatePipelineLayout");
    const VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                         .codeSize = src->n_words * 4, .pCode = src->words};
    VkShaderModule mod;
    if ((r = f->vkCreateShaderModule(dev, &mi, NULL, &mod)) != VK_SUCCESS) return vk_fail(be, err, r, "vkCreateShaderModule");
    const VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = mod, .pName = "main"},
        .layout = be->layout[id],
    };
    r = f->vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &ci, NULL, &be->pipe[id]);
    f->vkDestroyShaderModule(dev, mod, NULL);
    if (r != VK_SUCCESS) {
        be->pipe[id] = VK_NULL_HANDLE;
        return vk_fail(be, err, r, "vkCreateComputePipelines");
    }
    return GA_OK;
}

static int typed_pipe(int kind, int type) {
    const int ti = wtype_index(type);
    return ti < 0 ? -1 : P_TYPED + ti * T_KINDS + kind;
}

static int has_kernel(int id) {
    char name[64];
    return find_kernel(id, name, sizeof name) != NULL;
}

/* A binding of m from byte off: as much of it as one storage binding may hold. */
static vk_bind bind_at(const ga_backend *be, const ga_vk_mem *m, uint64_t off) {
    const uint64_t left = m->bytes - off, cap = be->vk.info.max_storage_range;
    return (vk_bind){m->buf, off, left < cap ? left : cap};
}

/* Records pipeline id over binds with push constants, gx x gy groups, then a barrier. */
static ga_status record(ga_backend *be, int id, const vk_bind *binds, const void *push, uint32_t gx, uint32_t gy,
                        ga_error *err) {
    ga_status st = get_pipe(be, id, err);
    if (st) return st;
    ga_vk_fns *f = &be->vk.fn;
    const int kind = id < P_TYPED ? id : P_TYPED + (id - P_TYPED) % T_KINDS;
    VkDescriptorSet set;
    const VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                            .descriptorPool = be->pool, .descriptorSetCount = 1,
                                            .pSetLayouts = &be->dsl[id]};
    VkResult r = f->vkAllocateDescriptorSets(be->vk.device, &ai, &set);
    if (r != VK_SUCCESS) return ga_fail(err, GA_ERR_ARG, "more than %d dispatches in one chunk", MAX_SETS);
    VkDescriptorBufferInfo infos[MAX_BINDS];
    VkWriteDescriptorSet writes[MAX_BINDS];
    for (uint32_t i = 0; i < PIPES[kind].n_bind; i++) {
        infos[i] = (VkDescriptorBufferInfo){.buffer = binds[i].buf, .offset = binds[i].off, .range = binds[i].range};
        writes[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                           .dstBinding = i, .descriptorCount = 1,
                                           .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .pBufferInfo = &infos[i]};
    }
    f->vkUpdateDescriptorSets(be->vk.device, PIPES[kind].n_bind, writes, 0, NULL);
    f->vkCmdBindPipeline(be->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, be->pipe[id]);
    f->vkCmdBindDescriptorSets(be->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, be->layout[id], 0, 1, &set, 0, NULL);
    f->vkCmdPushConstants(be->cmd, be->layout[id], VK_SHADER_STAGE_COMPUTE_BIT, 0, PIPES[kind].push_bytes, push);
    f->vkCmdDispatch(be->cmd, gx, gy, 1);
    barrier(be, be->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT);
    return GA_OK;
}

/* groups of a 1-D dispatch, folded into rows of MAX_GROUPS_X (the kernels fold y back in) */
static ga_status record_1d(ga_backend *be, int id, const vk_bind *binds, const void *push, uint64_t groups,
                           ga_error *err) {
    const uint32_t gx = groups < MAX_GROUPS_X ? (uint32_t)groups : MAX_GROUPS_X;
    return record(be, id, binds, push, gx, (uint32_t)((groups + gx - 1) / gx), err);
}

/* ------------------------------------------------------------------ lifetime */

static void vk_free(ga_backend *be) {
    if (!be) return;
    ga_vk_fns *f = &be->vk.fn;
    VkDevice dev = be->vk.device;
    if (dev) {
        f->vkDeviceWaitIdle(dev);
        for (int i = 0; i < be->n_bufs; i++)
            for (int j = 0; j < be->bufs[i].n_parts; j++) ga_vk_mem_free(&be->vk, &be->bufs[i].part[j]);
        for (int i = 0; i < be->n_weights; i++) ga_vk_mem_free(&be->vk, &be->weights[i].mem);
        ga_vk_mem_free(&be->vk, &be->norm_mem);
        ga_vk_mem_free(&be->vk, &be->upload);
        ga_vk_mem_free(&be->vk, &be->chunk_host);
        ga_vk_mem_free(&be->vk, &be->chunk_dev);
        ga_vk_mem_free(&be->vk, &be->stage);
        for (int k = 0; k < P_COUNT; k++) {
            if (be->pipe[k]) f->vkDestroyPipeline(dev, be->pipe[k], NULL);
            if (be->layout[k]) f->vkDestroyPipelineLayout(dev, be->layout[k], NULL);
            if (be->dsl[k]) f->vkDestroyDescriptorSetLayout(dev, be->dsl[k], NULL);
        }
        if (be->pool) f->vkDestroyDescriptorPool(dev, be->pool, NULL);
        if (be->fence) f->vkDestroyFence(dev, be->fence, NULL);
        if (be->cmd_pool) f->vkDestroyCommandPool(dev, be->cmd_pool, NULL);
    }
    ga_vk_close(&be->vk);
    free(be->weights);
    free(be->norms);
    free(be);
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* The chunk block's layout (kernels/chunk.glsl) and the RoPE slot of every layer. */
static ga_status plan_chunk_block(ga_backend *be, ga_error *err) {
    const ga_hparams *hp = &be->hp;
    const int64_t NB = be->p.n_batch, n_blocks = (be->p.n_ctx + GA_KV_PAGE - 1) / GA_KV_PAGE;
    const int64_t slots = be->p.n_seq < NB ? be->p.n_seq : NB;
    be->tab_off = 3 * NB;
    be->tab_cap = slots * hp->n_layer * n_blocks;
    uint64_t at = align_up((uint64_t)(be->tab_off + be->tab_cap) * 4, be->align);
    be->half_max = 1;
    for (int l = 0; l < hp->n_layer; l++) {
        const ga_layer_hparams *lh = &hp->layer[l];
        if (lh->head_dim / 2 > be->half_max) be->half_max = lh->head_dim / 2;
        int r = 0;
        while (r < be->n_rope && !(be->rope[r].base == lh->rope_base && be->rope[r].scale == lh->rope_freq_scale &&
                                   be->rope[r].d == lh->head_dim))
            r++;
        if (r == be->n_rope) {
            if (r == ROPE_MAX) return ga_fail(err, GA_ERR_UNSUPPORTED, "more than %d RoPE settings", ROPE_MAX);
            be->rope[r].base = lh->rope_base;
            be->rope[r].scale = lh->rope_freq_scale;
            be->rope[r].d = lh->head_dim;
            be->n_rope++;
        }
        be->rope_of[l] = r;
    }
    for (int r = 0; r < be->n_rope; r++) {
        be->rope[r].off = at;
        at = align_up(at + (uint64_t)2 * NB * be->half_max * 4, be->align);
    }
    if (at > be->vk.info.max_storage_range)
        return ga_fail(err, GA_ERR_UNSUPPORTED, "the chunk block (%.1f MiB for n_batch %lld, n_seq %d, n_ctx %d) "
                       "exceeds one storage binding", mib(at), (long long)NB, be->p.n_seq, be->p.n_ctx);
    ga_status st;
    if ((st = device_mem(be, at, 1, &be->chunk_host, "the chunk block", err)) ||
        (st = device_mem(be, at, 0, &be->chunk_dev, "the chunk block", err)))
        return st;
    return GA_OK;
}

static ga_status vk_init(const ga_backend_params *p, const ga_hparams *hp, ga_backend **out, ga_error *err) {
    if (p->n_batch < 1 || p->n_batch > 65535 || p->n_ctx < 1 || p->n_seq < 1)
        return ga_fail(err, GA_ERR_ARG, "the Vulkan backend needs 1 <= n_batch <= 65535, n_ctx and n_seq >= 1");
    for (int l = 0; l < hp->n_layer; l++)
        if (hp->layer[l].head_dim > MAX_HEAD_DIM)
            return ga_fail(err, GA_ERR_UNSUPPORTED, "layer %d: head_dim %d is over the Vulkan kernels' %d", l,
                           hp->layer[l].head_dim, MAX_HEAD_DIM);
    ga_backend *be = calloc(1, sizeof *be);
    if (!be) return ga_fail(err, GA_ERR_NOMEM, "out of memory");
    be->hp = *hp;
    be->p = *p;
    be->output_buf = GA_BUF_NONE;
    ga_status st = ga_vk_open(p->device, &be->vk, err);
    if (st) { free(be); return st; }
    /* GA_VK_MAX_RANGE (bytes) lowers the binding range tensors are split at: the tests
     * exercise the split on small tensors */
    be->max_range = be->vk.info.max_storage_range;
    const char *mr = getenv("GA_VK_MAX_RANGE");
    if (mr && atoll(mr) >= 4096 && (uint64_t)atoll(mr) < be->max_range) be->max_range = (uint64_t)atoll(mr);
    be->align = be->vk.info.storage_align > 16 ? be->vk.info.storage_align : 16;
    /* decode's matvec: 16 invocations per row meeting in shared memory on a GPU; one row per
     * invocation on a CPU device (lavapipe), where every barrier is a coroutine switch.
     * GA_VK_MATVEC=rows|lanes overrides (the tests run both on lavapipe). */
    const char *mv = getenv("GA_VK_MATVEC");
    be->mv_kind = mv && strcmp(mv, "rows") == 0    ? T_MATVEC_ROWS
                  : mv && strcmp(mv, "lanes") == 0 ? T_MATVEC
                  : strcmp(be->vk.info.type, "cpu") == 0 ? T_MATVEC_ROWS : T_MATVEC;
    ga_vk_fns *f = &be->vk.fn;
    VkDevice dev = be->vk.device;
    const VkDescriptorPoolSize ps = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = MAX_BINDS * MAX_SETS};
    const VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = MAX_SETS,
                                           .poolSizeCount = 1, .pPoolSizes = &ps};
    const VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                         .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                         .queueFamilyIndex = be->vk.queue_family};
    const VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkResult r;
    if ((r = f->vkCreateDescriptorPool(dev, &dpi, NULL, &be->pool)) != VK_SUCCESS ||
        (r = f->vkCreateCommandPool(dev, &cpi, NULL, &be->cmd_pool)) != VK_SUCCESS ||
        (r = f->vkCreateFence(dev, &fi, NULL, &be->fence)) != VK_SUCCESS) {
        st = vk_fail(be, err, r, "creating the command and descriptor pools");
        vk_free(be);
        return st;
    }
    VkCommandBuffer cmds[2];
    const VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                            .commandPool = be->cmd_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                            .commandBufferCount = 2};
    if ((r = f->vkAllocateCommandBuffers(dev, &ai, cmds)) != VK_SUCCESS) {
        st = vk_fail(be, err, r, "vkAllocateCommandBuffers");
        vk_free(be);
        return st;
    }
    be->cmd = cmds[0];
    be->xcmd = cmds[1];
    if ((st = device_mem(be, STAGE_BYTES, 1, &be->stage, "the staging ring", err)) ||
        (st = device_mem(be, UPLOAD_BYTES, 1, &be->upload, "the upload buffer", err)) ||
        (st = plan_chunk_block(be, err))) {
        vk_free(be);
        return st;
    }
    *out = be;
    return GA_OK;
}

static int vk_supports(const ga_backend *be, ga_op op, int wtype) {
    (void)be;
    if (op < 0 || op >= GA_OP_COUNT) return 0;
    static const int plain[GA_OP_COUNT] = {[GA_OP_RMS_NORM] = P_RMS_NORM, [GA_OP_QK_ROPE_STORE] = P_QK_ROPE,
                                           [GA_OP_ATTENTION] = P_ATTENTION, [GA_OP_GLU] = P_GLU,
                                           [GA_OP_RESIDUAL_ADD] = P_ADD, [GA_OP_SOFTCAP] = P_SOFTCAP};
    if (op == GA_OP_KV_COPY) return 1; /* a buffer copy */
    if (op == GA_OP_GET_ROWS || op == GA_OP_MATMUL) {
        if (wtype < 0) return 1;
        const int kinds[2] = {op == GA_OP_GET_ROWS ? T_GET_ROWS : be->mv_kind, T_MATMUL};
        for (int i = 0; i < (op == GA_OP_GET_ROWS ? 1 : 2); i++) {
            const int id = typed_pipe(kinds[i], wtype);
            if (id < 0 || !has_kernel(id)) return 0;
        }
        return 1;
    }
    return has_kernel(plain[op]);
}

/* ------------------------------------------------------------------ memory */

static ga_status vk_alloc(ga_backend *be, ga_mem_kind kind, int layer, int64_t rows, int64_t width, ga_buf *out,
                          ga_error *err) {
    (void)layer;
    if (be->n_bufs == MAX_BUFS) return ga_fail(err, GA_ERR_ARG, "the Vulkan backend has no more buffer handles");
    if (rows < 1 || width < 1 || rows > (INT64_C(1) << 40) / width)
        return ga_fail(err, GA_ERR_ARG, "buffer of %lld x %lld floats", (long long)rows, (long long)width);
    const uint64_t row_bytes = (uint64_t)width * 4;
    vk_buf *b = &be->bufs[be->n_bufs];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->rows = rows;
    b->width = width;
    if (kind == GA_MEM_OUTPUT) {
        /* host-visible parts that the kernels write and the host reads at end_chunk */
        b->part_rows = (int64_t)(be->max_range / row_bytes);
        if (b->part_rows < 1) return ga_fail(err, GA_ERR_UNSUPPORTED, "an output row of %lld floats exceeds one storage "
                                             "binding", (long long)width);
        if (b->part_rows > rows) b->part_rows = rows;
        b->n_parts = (int)((rows + b->part_rows - 1) / b->part_rows);
        if (b->n_parts > MAX_PARTS)
            return ga_fail(err, GA_ERR_UNSUPPORTED, "an output of %lld x %lld floats needs more than %d bindings",
                           (long long)rows, (long long)width, MAX_PARTS);
    } else {
        b->part_rows = rows;
        b->n_parts = kind == GA_MEM_KV ? 2 : 1;
        if ((uint64_t)rows * row_bytes > be->max_range)
            return ga_fail(err, GA_ERR_UNSUPPORTED, "a %s buffer of %.1f MiB exceeds one storage binding (%.1f MiB): "
                           "lower n_ctx, n_seq or n_batch", kind == GA_MEM_KV ? "KV" : "activation",
                           mib((uint64_t)rows * row_bytes), mib(be->max_range));
    }
    ga_status st = GA_OK;
    int made = 0;
    for (int j = 0; j < b->n_parts && !st; j++) {
        const int64_t left = rows - j * b->part_rows,
                      r = kind != GA_MEM_OUTPUT ? rows : left < b->part_rows ? left : b->part_rows;
        st = device_mem(be, (uint64_t)r * row_bytes, kind == GA_MEM_OUTPUT, &b->part[j],
                        kind == GA_MEM_KV ? "the KV cache" : kind == GA_MEM_OUTPUT ? "the logits" : "activations", err);
        if (!st) made++;
    }
    /* zeroed, as the CPU's calloc leaves its buffers */
    if (!st && (st = begin_commands(be, be->xcmd, err)) == GA_OK) {
        for (int j = 0; j < made; j++) be->vk.fn.vkCmdFillBuffer(be->xcmd, b->part[j].buf, 0, VK_WHOLE_SIZE, 0);
        st = submit_wait(be, be->xcmd, "clearing a buffer", err);
    }
    if (st) {
        for (int i = 0; i < made; i++) ga_vk_mem_free(&be->vk, &b->part[i]);
        b->n_parts = 0;
        return st;
    }
    *out = be->n_bufs++;
    return GA_OK;
}

static vk_buf *buf_of(ga_backend *be, ga_buf b) { return b >= 0 && b < be->n_bufs ? &be->bufs[b] : NULL; }

/* floats [off, off + n) of b: its part and the byte offset in it (a KV buffer: K, then V) */
static ga_status span_of(ga_backend *be, ga_buf b, int64_t off, int64_t n, ga_vk_mem **part, uint64_t *byte,
                         ga_error *err) {
    vk_buf *vb = buf_of(be, b);
    if (!vb || vb->kind == GA_MEM_OUTPUT)
        return ga_fail(err, GA_ERR_ARG, "buffer %d cannot be read or written from the host", (int)b);
    const int64_t half = vb->rows * vb->width, total = half * vb->n_parts;
    if (off < 0 || n < 0 || off > total - n || (off < half && off + n > half))
        return ga_fail(err, GA_ERR_ARG, "floats %lld..%lld are outside buffer %d (%lld floats)", (long long)off,
                       (long long)(off + n), (int)b, (long long)total);
    *part = &vb->part[off < half ? 0 : 1];
    *byte = (uint64_t)(off < half ? off : off - half) * 4;
    return GA_OK;
}

static ga_status vk_write(ga_backend *be, ga_buf b, int64_t off, int64_t n, const float *src, ga_error *err) {
    if (be->recording) return ga_fail(err, GA_ERR_ARG, "a buffer cannot be written during a chunk");
    ga_vk_mem *m = NULL;
    uint64_t byte = 0;
    ga_status st = span_of(be, b, off, n, &m, &byte, err);
    return st ? st : transfer(be, m->buf, byte, (void *)src, (uint64_t)n * 4, 1, err);
}

static ga_status vk_read(ga_backend *be, ga_buf b, int64_t off, int64_t n, float *dst, ga_error *err) {
    if (be->recording) return ga_fail(err, GA_ERR_ARG, "a buffer cannot be read during a chunk");
    ga_vk_mem *m = NULL;
    uint64_t byte = 0;
    ga_status st = span_of(be, b, off, n, &m, &byte, err);
    return st ? st : transfer(be, m->buf, byte, dst, (uint64_t)n * 4, 0, err);
}

static uint64_t vk_reserved(const ga_backend *be) { return be->reserved; }

/* ----------------------------------------------------------------- weights */

static const vk_weight *weight_of(const ga_backend *be, const ga_weight *w) {
    if (!w) return NULL;
    for (int i = 0; i < be->n_weights; i++)
        if (be->weights[i].data == w->data && be->weights[i].type == w->type && be->weights[i].rows == w->rows &&
            be->weights[i].cols == w->cols)
            return &be->weights[i];
    return NULL;
}

static int add_norm(ga_backend *be, const float *v, int64_t n, uint64_t *bytes) {
    if (!v) return 0;
    for (int i = 0; i < be->n_norms; i++)
        if (be->norms[i].host == v) return 0;
    be->norms[be->n_norms++] = (vk_norm){.host = v, .n = n, .off = *bytes};
    *bytes = align_up(*bytes + (uint64_t)n * 4, be->align);
    return 1;
}

static ga_status vk_load_weights(ga_backend *be, ga_weights *w, ga_error *err) {
    const ga_hparams *hp = &be->hp;
    const int max_w = 2 + 7 * hp->n_layer, max_n = 1 + 6 * hp->n_layer;
    be->weights = calloc((size_t)max_w, sizeof *be->weights);
    be->norms = calloc((size_t)max_n, sizeof *be->norms);
    if (!be->weights || !be->norms) return ga_fail(err, GA_ERR_NOMEM, "out of memory");
    /* the distinct weights, and what they need in all, before anything is allocated */
    const ga_weight *all[2 + 7 * GA_MAX_LAYERS];
    int n_all = 0;
    all[n_all++] = &w->tok_embd;
    all[n_all++] = &w->output;
    uint64_t norm_bytes = 0;
    add_norm(be, w->output_norm, hp->n_embd, &norm_bytes);
    for (int l = 0; l < hp->n_layer; l++) {
        ga_layer_weights *L = &w->layers[l];
        const ga_weight *lw[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (int i = 0; i < 7; i++) all[n_all++] = lw[i];
        const float *nv[4] = {L->attn_norm, L->ffn_norm, L->post_attn_norm, L->post_ffw_norm};
        for (int i = 0; i < 4; i++) add_norm(be, nv[i], hp->n_embd, &norm_bytes);
        add_norm(be, L->q_norm, hp->layer[l].head_dim, &norm_bytes);
        add_norm(be, L->k_norm, hp->layer[l].head_dim, &norm_bytes);
    }
    uint64_t need = norm_bytes;
    for (int i = 0; i < n_all; i++) {
        const ga_weight *x = all[i];
        if (!x->data || weight_of(be, x)) continue;
        const int ti = wtype_index(x->type);
        if (ti < 0) return ga_fail(err, GA_ERR_UNSUPPORTED, "the Vulkan backend has no kernels for weight type %d",
                                   x->type);
        if (x->cols % 4 || x->rows < 1 || x->row_bytes == 0)
            return ga_fail(err, GA_ERR_UNSUPPORTED, "a %lldx%lld weight: the Vulkan kernels need rows of 4n elements",
                           (long long)x->rows, (long long)x->cols);
        vk_weight *vw = &be->weights[be->n_weights++];
        *vw = (vk_weight){.data = x->data, .type = x->type, .rows = x->rows, .cols = x->cols, .row_bytes = x->row_bytes};
        vw->part_rows = (int64_t)((be->max_range - be->align - 4) / x->row_bytes);
        if (vw->part_rows < 1)
            return ga_fail(err, GA_ERR_UNSUPPORTED, "a weight row of %llu bytes exceeds one storage binding",
                           (unsigned long long)x->row_bytes);
        need += align_up((uint64_t)x->rows * x->row_bytes, 4);
    }
    const uint64_t heap = be->vk.info.memory_bytes, budget = be->p.budget_bytes;
    if (budget && be->reserved + need > budget)
        return ga_fail(err, GA_ERR_DEVICE_MEMORY,
                       "loading the model on %s needs %.1f MiB of Vulkan memory (%.1f MiB of weights, %.1f MiB of "
                       "buffers, KV cache and logits); the budget allows %.1f MiB", be->vk.info.name,
                       mib(be->reserved + need), mib(need), mib(be->reserved), mib(budget));
    if (heap && be->device_bytes + need > heap)
        return ga_fail(err, GA_ERR_DEVICE_MEMORY,
                       "loading the model on %s needs %.1f MiB of device memory (%.1f MiB of weights, %.1f MiB of "
                       "buffers and KV cache); it has %.1f MiB", be->vk.info.name, mib(be->device_bytes + need),
                       mib(need), mib(be->device_bytes), mib(heap));
    ga_status st;
    for (int i = 0; i < be->n_weights; i++) {
        vk_weight *vw = &be->weights[i];
        const uint64_t bytes = (uint64_t)vw->rows * vw->row_bytes;
        if ((st = device_mem(be, align_up(bytes, 4), 0, &vw->mem, "weights", err)) ||
            (st = transfer(be, vw->mem.buf, 0, (void *)vw->data, bytes, 1, err)))
            return st;
        const int ids[3] = {typed_pipe(T_GET_ROWS, vw->type), typed_pipe(be->mv_kind, vw->type),
                            typed_pipe(T_MATMUL, vw->type)};
        for (int k = 0; k < 3; k++)
            if ((st = get_pipe(be, ids[k], err))) return st;
    }
    if (be->n_norms) {
        if ((st = device_mem(be, norm_bytes, 0, &be->norm_mem, "norm weights", err))) return st;
        for (int i = 0; i < be->n_norms; i++)
            if ((st = transfer(be, be->norm_mem.buf, be->norms[i].off, (void *)be->norms[i].host,
                               (uint64_t)be->norms[i].n * 4, 1, err)))
                return st;
    }
    /* every kernel the model runs, compiled now rather than in its first token */
    for (int id = 0; id < P_TYPED; id++)
        if ((st = get_pipe(be, id, err))) return st;
    return GA_OK;
}

/* ------------------------------------------------------------------ chunks */

static ga_status vk_begin_chunk(ga_backend *be, const ga_chunk *c, float *output, ga_error *err) {
    if (!c || c->T < 1 || c->T > be->p.n_batch)
        return ga_fail(err, GA_ERR_ARG, "a chunk of %d tokens (1..%d)", c ? c->T : 0, be->p.n_batch);
    if (be->recording) return ga_fail(err, GA_ERR_ARG, "begin_chunk inside a chunk");
    if (be->lost) return lost_error(be, err);
    const ga_kv *kv = c->kv;
    const int64_t NB = be->p.n_batch, T = c->T;
    if (kv->n_layer != be->hp.n_layer) return ga_fail(err, GA_ERR_ARG, "the chunk's KV cache has another layer count");
    /* the chunk block: ids, positions, slots, then each sequence's block tables */
    int32_t *ib = be->chunk_host.map;
    int n_slots = 0;
    int32_t slot_seq[64];
    for (int64_t i = 0; i < T; i++) {
        ib[i] = c->tokens[i];
        ib[NB + i] = c->pos[i];
        int s = 0;
        while (s < n_slots && slot_seq[s] != c->seq[i]) s++;
        if (s == n_slots) {
            if ((int64_t)(n_slots + 1) * kv->n_layer * kv->n_blocks > be->tab_cap || n_slots == 64)
                return ga_fail(err, GA_ERR_ARG, "a chunk of more sequences than the Vulkan backend planned for");
            if (c->seq[i] < 0 || c->seq[i] >= kv->n_seq)
                return ga_fail(err, GA_ERR_ARG, "token %lld: sequence %d out of range", (long long)i, c->seq[i]);
            slot_seq[n_slots++] = c->seq[i];
        }
        ib[2 * NB + i] = s;
    }
    const int64_t per_slot = (int64_t)kv->n_layer * kv->n_blocks;
    for (int s = 0; s < n_slots; s++)
        for (int l = 0; l < kv->n_layer; l++)
            memcpy(ib + be->tab_off + s * per_slot + (int64_t)l * kv->n_blocks, ga_kv_pages(kv, slot_seq[s], l),
                   (size_t)kv->n_blocks * 4);
    /* RoPE rows, per setting, as the CPU computes them */
    for (int r = 0; r < be->n_rope; r++) {
        float *cs = (float *)((char *)be->chunk_host.map + be->rope[r].off), *sn = cs + NB * be->half_max;
        const int d = be->rope[r].d;
        for (int64_t i = 0; i < T; i++) {
            if (be->hp.rope_neox)
                ga_rope_angles(cs + i * be->half_max, sn + i * be->half_max, 0, d / 2, d, c->pos[i], be->rope[r].base,
                               be->rope[r].scale);
            else
                ga_rope_angles_adjacent(cs + i * be->half_max, sn + i * be->half_max, d, c->pos[i], be->rope[r].base,
                                        be->rope[r].scale);
        }
    }
    ga_vk_fns *f = &be->vk.fn;
    VkResult r = f->vkResetDescriptorPool(be->vk.device, be->pool, 0);
    if (r != VK_SUCCESS) return vk_fail(be, err, r, "vkResetDescriptorPool");
    ga_status st = begin_commands(be, be->cmd, err);
    if (st) return st;
    VkBufferCopy regions[3 + 2 * ROPE_MAX];
    uint32_t n = 0;
    regions[n++] = (VkBufferCopy){0, 0, (uint64_t)3 * NB * 4};
    regions[n++] = (VkBufferCopy){(uint64_t)be->tab_off * 4, (uint64_t)be->tab_off * 4, (uint64_t)n_slots * per_slot * 4};
    for (int k = 0; k < be->n_rope; k++) {
        const uint64_t cos_at = be->rope[k].off, sin_at = cos_at + (uint64_t)NB * be->half_max * 4,
                       bytes = (uint64_t)T * be->half_max * 4;
        regions[n++] = (VkBufferCopy){cos_at, cos_at, bytes};
        regions[n++] = (VkBufferCopy){sin_at, sin_at, bytes};
    }
    f->vkCmdCopyBuffer(be->cmd, be->chunk_host.buf, be->chunk_dev.buf, n, regions);
    barrier(be, be->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT);
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
    if (!be->recording) return ga_fail(err, GA_ERR_ARG, "end_chunk without begin_chunk");
    be->recording = 0;
    be->c = NULL;
    if (be->failed) { /* an op was refused: nothing runs */
        be->vk.fn.vkEndCommandBuffer(be->cmd);
        return GA_OK;
    }
    ga_status st = submit_wait(be, be->cmd, "the chunk", err);
    if (st) return st;
    if (be->output && be->output_buf != GA_BUF_NONE) {
        const vk_buf *b = &be->bufs[be->output_buf];
        const int64_t per_part = b->part_rows * b->width;
        for (int j = 0; j < b->n_parts && j * per_part < be->output_floats; j++) {
            const int64_t n = be->output_floats - j * per_part < per_part ? be->output_floats - j * per_part : per_part;
            memcpy(be->output + j * per_part, b->part[j].map, (size_t)n * sizeof(float));
        }
    }
    return GA_OK;
}

/* ------------------------------------------------------------------- ops */

/* The op may touch rows [row0, row0 + rows) of width floats in b (not a KV buffer). */
static ga_status check_rows(ga_backend *be, ga_buf b, int64_t row0, int64_t rows, int64_t width, const char *what,
                            ga_error *err) {
    vk_buf *vb = buf_of(be, b);
    if (!vb || vb->kind == GA_MEM_KV) return ga_fail(err, GA_ERR_ARG, "%s: no such buffer (%d)", what, (int)b);
    if (vb->kind == GA_MEM_OUTPUT && !be->output)
        return ga_fail(err, GA_ERR_ARG, "%s: no host memory for the output in this chunk", what);
    if (row0 < 0 || rows < 0 || width < 1 || row0 + rows > vb->rows * vb->width / width ||
        (vb->kind == GA_MEM_OUTPUT && width != vb->width))
        return ga_fail(err, GA_ERR_ARG, "%s: rows %lld..%lld of width %lld overrun a buffer of %lld floats", what,
                       (long long)row0, (long long)(row0 + rows), (long long)width, (long long)(vb->rows * vb->width));
    return GA_OK;
}

/* An element-wise op's src and dst[0]: T rows of width, both activations. */
static ga_status check_act_pair(ga_backend *be, const ga_op_args *op, const char *what, ga_error *err) {
    char in[48], out[48];
    snprintf(in, sizeof in, "%s input", what);
    snprintf(out, sizeof out, "%s output", what);
    ga_status st;
    if ((st = check_rows(be, op->src, 0, op->T, op->width, in, err)) ||
        (st = check_rows(be, op->dst[0], 0, op->T, op->width, out, err)))
        return st;
    if (be->bufs[op->src].kind != GA_MEM_ACT || be->bufs[op->dst[0]].kind != GA_MEM_ACT)
        return ga_fail(err, GA_ERR_ARG, "%s works on activations", what);
    return GA_OK;
}

/* Rows [row0, row0 + rows) of b split where b's parts split (only output buffers have several):
 * segment k is rows seg_row[k]..seg_row[k + 1] - 1, in part seg_part[k]. */
typedef struct { int n; int part[MAX_PARTS + 1]; int64_t row[MAX_PARTS + 2]; } segments;

static void split_rows(const vk_buf *b, int64_t row0, int64_t rows, int64_t width, segments *s) {
    s->n = 0;
    if (b->kind != GA_MEM_OUTPUT) { /* one part; rows of any width */
        s->n = 1; s->part[0] = 0; s->row[0] = row0; s->row[1] = row0 + rows;
        return;
    }
    (void)width; /* == b->width (check_rows) */
    for (int64_t r = row0; r < row0 + rows;) {
        const int p = (int)(r / b->part_rows);
        const int64_t end = (p + 1) * b->part_rows < row0 + rows ? (p + 1) * b->part_rows : row0 + rows;
        s->part[s->n] = p;
        s->row[s->n] = r;
        s->n++;
        r = end;
    }
    s->row[s->n] = row0 + rows;
}

static void note_output(ga_backend *be, ga_buf b, int64_t end_float) {
    if (be->bufs[b].kind != GA_MEM_OUTPUT) return;
    be->output_buf = b;
    if (end_float > be->output_floats) be->output_floats = end_float;
}

/* Copies n host floats into this chunk's staging ring: a binding of them. */
static ga_status stage(ga_backend *be, const float *src, int64_t n, vk_bind *out, ga_error *err) {
    const uint64_t bytes = (uint64_t)n * sizeof(float), at = align_up(be->stage_used, be->align);
    if (at + bytes > be->stage.bytes)
        return ga_fail(err, GA_ERR_NOMEM, "the chunk's host vectors exceed the %llu-byte staging ring",
                       (unsigned long long)be->stage.bytes);
    memcpy((char *)be->stage.map + at, src, bytes);
    be->stage_used = at + bytes;
    *out = (vk_bind){be->stage.buf, at, bytes};
    return GA_OK;
}

/* A norm vector of n floats: the uploaded copy of a model weight, else staged. */
static ga_status norm_bind(ga_backend *be, const float *v, int64_t n, vk_bind *out, ga_error *err) {
    for (int i = 0; i < be->n_norms; i++)
        if (be->norms[i].host == v && be->norms[i].n >= n) {
            *out = (vk_bind){be->norm_mem.buf, be->norms[i].off, (uint64_t)n * 4};
            return GA_OK;
        }
    return stage(be, v, n, out, err);
}

static vk_bind whole(const ga_backend *be, ga_buf b, int part) { return bind_at(be, &be->bufs[b].part[part], 0); }

static ga_status op_rms_norm(ga_backend *be, ga_buf src, int64_t src_row0, ga_buf dst, int64_t dst_row0, int T,
                             int64_t width, const float *norm, ga_error *err) {
    ga_status st;
    if ((st = check_rows(be, src, src_row0, T, width, "rms_norm input", err)) ||
        (st = check_rows(be, dst, dst_row0, T, width, "rms_norm output", err)))
        return st;
    if (!norm) return ga_fail(err, GA_ERR_ARG, "rms_norm without a weight");
    if (be->bufs[src].kind == GA_MEM_OUTPUT) return ga_fail(err, GA_ERR_ARG, "rms_norm reads the output buffer");
    vk_bind w;
    if ((st = norm_bind(be, norm, width, &w, err))) return st;
    segments sg;
    split_rows(&be->bufs[dst], dst_row0, T, width, &sg);
    for (int k = 0; k < sg.n; k++) {
        const int64_t in_part = sg.row[k] - (int64_t)sg.part[k] * be->bufs[dst].part_rows * (be->bufs[dst].kind == GA_MEM_OUTPUT);
        const struct { uint32_t width, src_off, dst_off; float eps; } push = {
            (uint32_t)width, (uint32_t)((src_row0 + sg.row[k] - dst_row0) * width), (uint32_t)(in_part * width),
            be->hp.norm_eps};
        const vk_bind binds[3] = {whole(be, src, 0), w, whole(be, dst, sg.part[k])};
        if ((st = record(be, P_RMS_NORM, binds, &push, (uint32_t)(sg.row[k + 1] - sg.row[k]), 1, err))) return st;
    }
    note_output(be, dst, (dst_row0 + T) * width);
    return GA_OK;
}

static uint64_t groups_for(int64_t n) { return (uint64_t)((n + 63) / 64); }

/* a weight's row range [r0, r1) as a binding, and the byte of row r0 in it */
static vk_bind weight_range(const ga_backend *be, const vk_weight *w, int64_t r0, uint32_t *sub) {
    const uint64_t byte0 = (uint64_t)r0 * w->row_bytes, off = byte0 / be->align * be->align;
    *sub = (uint32_t)(byte0 - off);
    return bind_at(be, &w->mem, off);
}

static ga_status op_get_rows(ga_backend *be, const ga_op_args *op, ga_error *err) {
    const vk_weight *E = weight_of(be, op->w[0]);
    const int64_t D = op->width;
    ga_status st;
    if (op->T != be->c->T) return ga_fail(err, GA_ERR_ARG, "get_rows over %d of the chunk's %d tokens", op->T, be->c->T);
    if (!E) return ga_fail(err, GA_ERR_ARG, "get_rows: a table that was not loaded");
    if (E->cols != D) return ga_fail(err, GA_ERR_ARG, "get_rows: the table's rows are not %lld wide", (long long)D);
    if ((st = check_rows(be, op->dst[0], 0, op->T, D, "get_rows output", err))) return st;
    if (be->bufs[op->dst[0]].kind == GA_MEM_OUTPUT) return ga_fail(err, GA_ERR_ARG, "get_rows into the output");
    for (int i = 0; i < op->T; i++)
        if (be->c->tokens[i] < 0 || be->c->tokens[i] >= E->rows)
            return ga_fail(err, GA_ERR_ARG, "token id %d is outside the vocabulary (0..%lld)", be->c->tokens[i],
                           (long long)E->rows - 1);
    for (int64_t r0 = 0; r0 < E->rows; r0 += E->part_rows) {
        const int64_t r1 = r0 + E->part_rows < E->rows ? r0 + E->part_rows : E->rows;
        uint32_t sub;
        const vk_bind wb = weight_range(be, E, r0, &sub);
        const struct { uint32_t D, w_off, row_bytes, r0, r1, dst_off; float scale; } push = {
            (uint32_t)D, sub, (uint32_t)E->row_bytes, (uint32_t)r0, (uint32_t)r1, 0, op->scale};
        const vk_bind binds[3] = {wb, bind_at(be, &be->chunk_dev, 0), whole(be, op->dst[0], 0)};
        if ((st = record(be, typed_pipe(T_GET_ROWS, E->type), binds, &push, (uint32_t)op->T, 1, err))) return st;
    }
    return GA_OK;
}

static ga_status op_matmul(ga_backend *be, const ga_op_args *op, ga_error *err) {
    ga_status st;
    if (op->nw < 1 || op->nw > 3) return ga_fail(err, GA_ERR_ARG, "matmul of %d weights", op->nw);
    const vk_weight *ws[3];
    for (int i = 0; i < op->nw; i++) {
        if (!(ws[i] = weight_of(be, op->w[i]))) return ga_fail(err, GA_ERR_ARG, "matmul: a weight that was not loaded");
        if (ws[i]->cols != ws[0]->cols) return ga_fail(err, GA_ERR_ARG, "matmul: weights of different widths");
        if ((st = check_rows(be, op->dst[i], 0, op->T, ws[i]->rows, "matmul output", err))) return st;
    }
    const int64_t K = ws[0]->cols;
    if ((st = check_rows(be, op->src, 0, op->T, K, "matmul input", err))) return st;
    if (be->bufs[op->src].kind == GA_MEM_OUTPUT) return ga_fail(err, GA_ERR_ARG, "matmul reads the output buffer");
    for (int i = 0; i < op->nw; i++) {
        const vk_weight *w = ws[i];
        const vk_buf *db = &be->bufs[op->dst[i]];
        segments sg;
        split_rows(db, 0, op->T, w->rows, &sg);
        for (int k = 0; k < sg.n; k++) {
            const int64_t t0 = sg.row[k], nt = sg.row[k + 1] - t0;
            const int64_t in_part = db->kind == GA_MEM_OUTPUT ? t0 - (int64_t)sg.part[k] * db->part_rows : t0;
            for (int64_t r0 = 0; r0 < w->rows; r0 += w->part_rows) {
                const int64_t r1 = r0 + w->part_rows < w->rows ? r0 + w->part_rows : w->rows, rows = r1 - r0;
                uint32_t sub;
                const vk_bind binds[3] = {weight_range(be, w, r0, &sub), whole(be, op->src, 0),
                                          whole(be, op->dst[i], sg.part[k])};
                const uint32_t push[9] = {(uint32_t)K, (uint32_t)rows, sub, (uint32_t)w->row_bytes, (uint32_t)(t0 * K),
                                          (uint32_t)(in_part * w->rows), (uint32_t)w->rows, (uint32_t)r0, (uint32_t)nt};
                if (nt <= MV_MAX_T)
                    st = record_1d(be, typed_pipe(be->mv_kind, w->type), binds, push,
                                   (uint64_t)(rows + (be->mv_kind == T_MATVEC ? 3 : 63)) / (be->mv_kind == T_MATVEC ? 4 : 64),
                                   err);
                else
                    st = record(be, typed_pipe(T_MATMUL, w->type), binds, push, (uint32_t)((rows + 63) / 64),
                                (uint32_t)((nt + 31) / 32), err);
                if (st) return st;
            }
        }
        note_output(be, op->dst[i], op->T * w->rows);
    }
    return GA_OK;
}

static const vk_buf *kv_buf(ga_backend *be, ga_buf b, int64_t width) {
    const vk_buf *vb = buf_of(be, b);
    return vb && vb->kind == GA_MEM_KV && vb->width == width ? vb : NULL;
}

static ga_status op_qk_rope_store(ga_backend *be, const ga_op_args *op, ga_error *err) {
    if (op->layer < 0 || op->layer >= be->hp.n_layer) return ga_fail(err, GA_ERR_ARG, "no layer %d", op->layer);
    const ga_layer_hparams *lh = &be->hp.layer[op->layer];
    const int64_t H = lh->n_head, d = lh->head_dim, KV = (int64_t)lh->n_head_kv * d;
    const vk_buf *kvb = kv_buf(be, op->dst[0], KV);
    ga_status st;
    if (!kvb) return ga_fail(err, GA_ERR_ARG, "qk_rope_store: dst is not a KV buffer of width %lld", (long long)KV);
    if (op->T != be->c->T) return ga_fail(err, GA_ERR_ARG, "qk_rope_store over %d of %d tokens", op->T, be->c->T);
    if ((st = ga_chunk_check_pages(be->c, op->kv_layer, kvb->rows / GA_KV_PAGE, 0, 0, err)) ||
        (st = check_rows(be, op->src, 0, op->T, H * d, "q", err)))
        return st;
    const int store = op->src2 != GA_BUF_NONE;
    if (store && ((st = check_rows(be, op->src2, 0, op->T, KV, "k", err)) ||
                  (st = check_rows(be, op->src3, 0, op->T, KV, "v", err))))
        return st;
    const ga_buf act[3] = {op->src, op->src2, op->src3};
    for (int i = 0; i < (store ? 3 : 1); i++)
        if (be->bufs[act[i]].kind != GA_MEM_ACT) return ga_fail(err, GA_ERR_ARG, "qk_rope_store: q, k, v are activations");
    if (op->norm && store && !op->norm2) return ga_fail(err, GA_ERR_ARG, "q norm without a k norm");
    vk_bind qn = whole(be, op->src, 0), kn = qn;
    if (op->norm && (st = norm_bind(be, op->norm, d, &qn, err))) return st;
    if (op->norm && store && (st = norm_bind(be, op->norm2, d, &kn, err))) return st;
    if (op->norm && !store) kn = qn;
    const int rs = be->rope_of[op->layer];
    const vk_bind binds[9] = {
        whole(be, op->src, 0), whole(be, store ? op->src2 : op->src, 0), whole(be, store ? op->src3 : op->src, 0),
        whole(be, op->dst[0], 0), whole(be, op->dst[0], 1), bind_at(be, &be->chunk_dev, 0),
        {be->chunk_dev.buf, be->rope[rs].off, (uint64_t)2 * be->p.n_batch * be->half_max * 4}, qn, kn,
    };
    const struct { uint32_t H, Hkv, d, NB, has_norm, neox, n_layer, n_blocks, tab_off, kv_layer, half_max; float eps; }
        push = {(uint32_t)H, (uint32_t)lh->n_head_kv, (uint32_t)d, (uint32_t)be->p.n_batch, op->norm != NULL,
                (uint32_t)(be->hp.rope_neox != 0), (uint32_t)be->c->kv->n_layer, (uint32_t)be->c->kv->n_blocks,
                (uint32_t)be->tab_off, (uint32_t)op->kv_layer, (uint32_t)be->half_max, be->hp.norm_eps};
    return record(be, P_QK_ROPE, binds, &push, (uint32_t)op->T, (uint32_t)(H + (store ? lh->n_head_kv : 0)), err);
}

static ga_status op_attention(ga_backend *be, const ga_op_args *op, ga_error *err) {
    if (op->layer < 0 || op->layer >= be->hp.n_layer) return ga_fail(err, GA_ERR_ARG, "no layer %d", op->layer);
    const ga_layer_hparams *lh = &be->hp.layer[op->layer];
    const int64_t H = lh->n_head, d = lh->head_dim, Q = H * d, KV = (int64_t)lh->n_head_kv * d;
    const vk_buf *kvb = kv_buf(be, op->src2, KV);
    ga_status st;
    if (!kvb) return ga_fail(err, GA_ERR_ARG, "attention: src2 is not a KV buffer of width %lld", (long long)KV);
    if (op->T != be->c->T) return ga_fail(err, GA_ERR_ARG, "attention over %d of %d tokens", op->T, be->c->T);
    const int window = lh->swa ? be->hp.sliding_window : 0;
    if ((st = ga_chunk_check_pages(be->c, op->kv_layer, kvb->rows / GA_KV_PAGE, window, 1, err)) ||
        (st = check_rows(be, op->src, 0, op->T, Q, "q", err)) ||
        (st = check_rows(be, op->dst[0], 0, op->T, Q, "attention output", err)))
        return st;
    if (be->bufs[op->src].kind != GA_MEM_ACT || be->bufs[op->dst[0]].kind != GA_MEM_ACT)
        return ga_fail(err, GA_ERR_ARG, "attention: q and the output are activations");
    const vk_bind binds[5] = {whole(be, op->src, 0), whole(be, op->src2, 0), whole(be, op->src2, 1),
                              bind_at(be, &be->chunk_dev, 0), whole(be, op->dst[0], 0)};
    const struct { uint32_t H, Hkv, d, NB, window, kv_layer, n_layer, n_blocks, tab_off; float scale, softcap; } push = {
        (uint32_t)H, (uint32_t)lh->n_head_kv, (uint32_t)d, (uint32_t)be->p.n_batch, (uint32_t)window,
        (uint32_t)op->kv_layer, (uint32_t)be->c->kv->n_layer, (uint32_t)be->c->kv->n_blocks, (uint32_t)be->tab_off,
        be->hp.attn_scale, be->hp.attn_softcap};
    return record(be, P_ATTENTION, binds, &push, (uint32_t)op->T, (uint32_t)H, err);
}

static ga_status op_kv_copy(ga_backend *be, const ga_op_args *op, ga_error *err) {
    const vk_buf *kvb = buf_of(be, op->dst[0]);
    if (!kvb || kvb->kind != GA_MEM_KV) return ga_fail(err, GA_ERR_ARG, "kv_copy: not a KV buffer");
    const int64_t n_pages = kvb->rows / GA_KV_PAGE;
    if (op->page_src < 0 || op->page_src >= n_pages || op->page_dst < 0 || op->page_dst >= n_pages ||
        op->page_src == op->page_dst)
        return ga_fail(err, GA_ERR_ARG, "kv_copy: page %d -> %d outside 0..%lld", op->page_src, op->page_dst,
                       (long long)n_pages - 1);
    const uint64_t page = (uint64_t)GA_KV_PAGE * kvb->width * 4;
    const VkBufferCopy region = {(uint64_t)op->page_src * page, (uint64_t)op->page_dst * page, page};
    for (int j = 0; j < 2; j++) be->vk.fn.vkCmdCopyBuffer(be->cmd, kvb->part[j].buf, kvb->part[j].buf, 1, &region);
    barrier(be, be->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                VK_ACCESS_TRANSFER_WRITE_BIT);
    return GA_OK;
}

static ga_status vk_run(ga_backend *be, const ga_op_args *op, ga_error *err) {
    if (!be->recording)
        return ga_fail(err, GA_ERR_ARG, "%s outside a chunk", op->op >= 0 && op->op < GA_OP_COUNT ? ga_op_names[op->op] : "an op");
    ga_status st = GA_OK;
    if (op->T < 0 || op->T > be->p.n_batch) st = ga_fail(err, GA_ERR_ARG, "an op over %d rows", op->T);
    else if (op->T == 0 && op->op != GA_OP_KV_COPY) return GA_OK;
    else switch (op->op) {
    case GA_OP_GET_ROWS: st = op_get_rows(be, op, err); break;
    case GA_OP_RMS_NORM:
        st = op_rms_norm(be, op->src, op->src_row0, op->dst[0], op->dst_row0, op->T, op->width, op->norm, err);
        break;
    case GA_OP_MATMUL: st = op_matmul(be, op, err); break;
    case GA_OP_QK_ROPE_STORE: st = op_qk_rope_store(be, op, err); break;
    case GA_OP_ATTENTION: st = op_attention(be, op, err); break;
    case GA_OP_GLU: {
        if ((st = check_act_pair(be, op, "glu", err))) break;
        const int64_t n = (int64_t)op->T * op->width;
        const uint32_t push[2] = {(uint32_t)n, (uint32_t)(be->hp.act_gelu != 0)};
        const vk_bind binds[2] = {whole(be, op->src, 0), whole(be, op->dst[0], 0)};
        st = record_1d(be, P_GLU, binds, push, groups_for(n), err);
        break;
    }
    case GA_OP_RESIDUAL_ADD: {
        if ((st = check_act_pair(be, op, "residual_add", err))) break;
        if (op->norm && (st = op_rms_norm(be, op->src, 0, op->src, 0, op->T, op->width, op->norm, err))) break;
        const int64_t n = (int64_t)op->T * op->width;
        const uint32_t push[1] = {(uint32_t)n};
        const vk_bind binds[2] = {whole(be, op->src, 0), whole(be, op->dst[0], 0)};
        st = record_1d(be, P_ADD, binds, push, groups_for(n), err);
        break;
    }
    case GA_OP_SOFTCAP: {
        if ((st = check_rows(be, op->dst[0], 0, op->T, op->width, "softcap", err))) break;
        if (!(op->cap > 0)) { st = ga_fail(err, GA_ERR_ARG, "softcap needs a cap > 0"); break; }
        const vk_buf *db = &be->bufs[op->dst[0]];
        segments sg;
        split_rows(db, 0, op->T, op->width, &sg);
        for (int k = 0; k < sg.n && !st; k++) {
            const int64_t n = (sg.row[k + 1] - sg.row[k]) * op->width;
            const int64_t in_part = db->kind == GA_MEM_OUTPUT ? sg.row[k] - (int64_t)sg.part[k] * db->part_rows : sg.row[k];
            /* softcap.comp works from float 0 of its binding: bind at the segment's first row */
            const vk_bind b = bind_at(be, &db->part[sg.part[k]], (uint64_t)(in_part * op->width) * 4);
            const struct { uint32_t n; float cap; } push = {(uint32_t)n, op->cap};
            if (b.off % be->align) {
                st = ga_fail(err, GA_ERR_ARG, "softcap: rows that do not start at an aligned offset");
                break;
            }
            st = record_1d(be, P_SOFTCAP, &b, &push, groups_for(n), err);
        }
        if (!st) note_output(be, op->dst[0], (int64_t)op->T * op->width);
        break;
    }
    case GA_OP_KV_COPY: st = op_kv_copy(be, op, err); break;
    default: st = ga_fail(err, GA_ERR_ARG, "unknown op %d", (int)op->op);
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
