// C ABI shim over sentencepiece::SentencePieceProcessor (libsentencepiece 0.1.97).
#include "CSentencePiece.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

struct spm_processor {
    sentencepiece::SentencePieceProcessor processor;
};

static void write_error(char *error, size_t capacity, const std::string &message) {
    if (error == nullptr || capacity == 0) return;
    size_t n = message.size() < capacity - 1 ? message.size() : capacity - 1;
    std::memcpy(error, message.data(), n);
    error[n] = '\0';
}

// The handle is owned by a unique_ptr until loading succeeds, so it is freed on every failure
// path, also when the library throws.
template <typename Load>
static spm_processor *load_with(Load load, char *error, size_t error_capacity) {
    try {
        std::unique_ptr<spm_processor> handle(new spm_processor());
        auto status = load(handle->processor);
        if (!status.ok()) {
            write_error(error, error_capacity, status.ToString());
            return nullptr;
        }
        return handle.release();
    } catch (const std::exception &e) {
        write_error(error, error_capacity, e.what());
    } catch (...) {
        write_error(error, error_capacity, "unknown C++ exception while loading");
    }
    return nullptr;
}

extern "C" spm_processor *spm_load(const char *path, char *error, size_t error_capacity) {
    return load_with([&](sentencepiece::SentencePieceProcessor &p) { return p.Load(path); }, error, error_capacity);
}

extern "C" spm_processor *spm_load_from_memory(const char *data, size_t size, char *error, size_t error_capacity) {
    return load_with([&](sentencepiece::SentencePieceProcessor &p) {
        return p.LoadFromSerializedProto(std::string_view(data, size));
    }, error, error_capacity);
}

extern "C" void spm_free(spm_processor *processor) { delete processor; }

extern "C" int spm_encode(const spm_processor *processor, const char *text, size_t text_length,
                          int32_t *ids, size_t capacity, size_t *count, char *error,
                          size_t error_capacity) {
    try {
        std::vector<int> out;
        auto status = processor->processor.Encode(std::string_view(text, text_length), &out);
        if (!status.ok()) {
            write_error(error, error_capacity, status.ToString());
            return -1;
        }
        *count = out.size();
        for (size_t i = 0; i < out.size() && i < capacity; ++i) ids[i] = out[i];
        return 0;
    } catch (const std::exception &e) {
        write_error(error, error_capacity, e.what());
    } catch (...) {
        write_error(error, error_capacity, "unknown C++ exception while encoding");
    }
    return -1;
}

extern "C" int spm_decode(const spm_processor *processor, const int32_t *ids, size_t count,
                          char **out, char *error, size_t error_capacity) {
    try {
        const int size = processor->processor.GetPieceSize();
        std::vector<int> in(ids, ids + count);
        for (int id : in) {
            if (id < 0 || id >= size) {
                write_error(error, error_capacity,
                            "id " + std::to_string(id) + " is outside the vocabulary of " +
                                std::to_string(size));
                return -1;
            }
        }
        std::string text;
        auto status = processor->processor.Decode(in, &text);
        if (!status.ok()) {
            write_error(error, error_capacity, status.ToString());
            return -1;
        }
        char *buffer = static_cast<char *>(std::malloc(text.size() + 1));
        if (buffer == nullptr) {
            write_error(error, error_capacity, "out of memory");
            return -1;
        }
        std::memcpy(buffer, text.data(), text.size());
        buffer[text.size()] = '\0';
        *out = buffer;
        return 0;
    } catch (const std::exception &e) {
        write_error(error, error_capacity, e.what());
    } catch (...) {
        write_error(error, error_capacity, "unknown C++ exception while decoding");
    }
    return -1;
}

extern "C" void spm_free_string(char *string) { std::free(string); }

extern "C" int32_t spm_vocab_size(const spm_processor *p) { return p->processor.GetPieceSize(); }
extern "C" int32_t spm_piece_to_id(const spm_processor *p, const char *piece) {
    try {
        return p->processor.PieceToId(piece);
    } catch (...) {
        return -1;
    }
}
extern "C" int32_t spm_unk_id(const spm_processor *p) { return p->processor.unk_id(); }
extern "C" int32_t spm_bos_id(const spm_processor *p) { return p->processor.bos_id(); }
extern "C" int32_t spm_eos_id(const spm_processor *p) { return p->processor.eos_id(); }
extern "C" int32_t spm_pad_id(const spm_processor *p) { return p->processor.pad_id(); }
