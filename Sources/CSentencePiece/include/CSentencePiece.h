// C ABI over SentencePiece's C++ SentencePieceProcessor. Every call catches C++ exceptions
// on the C++ side and reports failure through a return code and an error buffer, so no
// exception ever crosses into Swift.
#ifndef CSENTENCEPIECE_H
#define CSENTENCEPIECE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spm_processor spm_processor;

/// Loads a `.model` file; returns NULL and fills `error` on failure.
spm_processor *spm_load(const char *path, char *error, size_t error_capacity);
/// Loads a model from the bytes of a `.model` file; returns NULL and fills `error` on failure.
spm_processor *spm_load_from_memory(const char *data, size_t size, char *error, size_t error_capacity);
void spm_free(spm_processor *processor);

/// Encodes UTF-8 `text` into ids. Writes up to `capacity` ids and stores the full count in
/// `count`; returns 0 on success, -1 on failure (message in `error`).
int spm_encode(const spm_processor *processor, const char *text, size_t text_length,
               int32_t *ids, size_t capacity, size_t *count, char *error, size_t error_capacity);

/// Decodes ids into a malloc'ed, NUL-terminated UTF-8 string stored in `out` (free it with
/// spm_free_string); returns 0 on success, -1 on failure.
int spm_decode(const spm_processor *processor, const int32_t *ids, size_t count, char **out,
               char *error, size_t error_capacity);
void spm_free_string(char *string);

int32_t spm_vocab_size(const spm_processor *processor);
int32_t spm_piece_to_id(const spm_processor *processor, const char *piece);
int32_t spm_unk_id(const spm_processor *processor);
int32_t spm_bos_id(const spm_processor *processor);
int32_t spm_eos_id(const spm_processor *processor);
int32_t spm_pad_id(const spm_processor *processor);

#ifdef __cplusplus
}
#endif

#endif
