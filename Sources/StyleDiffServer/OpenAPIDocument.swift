// The OpenAPI 3 document of every route (GET /openapi.json). StyleDiffServerTests keep it true:
// every documented operation answers, and the request schemas list exactly the fields the
// parsers implement.

enum OpenAPIDocument {
    static let json = #"""
{
 "components": {
  "responses": {
   "E400": {
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    },
    "description": "malformed body"
   },
   "E401": {
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    },
    "description": "missing or wrong API key"
   },
   "E404": {
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    },
    "description": "a referenced input is missing"
   },
   "E409": {
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    },
    "description": "interrupted"
   },
   "E413": {
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    },
    "description": "body over 32 MiB"
   },
   "E422": {
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    },
    "description": "unsupported field or value"
   },
   "E429": {
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    },
    "description": "queue full (Retry-After)"
   },
   "E499": {
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    },
    "description": "client closed the connection"
   },
   "E500": {
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    },
    "description": "internal error"
   },
   "E503": {
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    },
    "description": "deadline passed or shutting down (Retry-After)"
   }
  },
  "schemas": {
   "A1111Common": {
    "properties": {
     "batch_size": {
      "description": "1-16",
      "type": "integer"
     },
     "blend": {
      "description": "stylediff",
      "enum": [
       "linear",
       "slerp"
      ],
      "type": "string"
     },
     "cfg_scale": {
      "type": "number"
     },
     "clip_skip": {
      "type": "integer"
     },
     "eta": {
      "type": "number"
     },
     "height": {
      "type": "integer"
     },
     "n_iter": {
      "description": "1-16",
      "type": "integer"
     },
     "negative_prompt": {
      "type": "string"
     },
     "prompt": {
      "type": "string"
     },
     "sampler_name": {
      "description": "GET /sdapi/v1/samplers",
      "type": "string"
     },
     "seed": {
      "description": "-1: random",
      "type": "integer"
     },
     "steps": {
      "type": "integer"
     },
     "style": {
      "description": "stylediff: a style of the model",
      "type": "string"
     },
     "style_images": {
      "description": "stylediff: image style prompts",
      "items": {
       "properties": {
        "image": {
         "description": "base64 PNG",
         "type": "string"
        },
        "weight": {
         "type": "number"
        }
       },
       "required": [
        "image"
       ],
       "type": "object"
      },
      "type": "array"
     },
     "style_snap": {
      "description": "stylediff",
      "type": "number"
     },
     "style_strength": {
      "description": "stylediff",
      "type": "number"
     },
     "styles": {
      "description": "at most one name of GET /sdapi/v1/prompt-styles",
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "width": {
      "type": "integer"
     }
    },
    "type": "object"
   },
   "A1111Response": {
    "properties": {
     "images": {
      "description": "base64 PNGs with stylediff metadata",
      "items": {
       "type": "string"
      },
      "type": "array"
     },
     "info": {
      "description": "JSON text: seeds, infotexts, ...",
      "type": "string"
     },
     "parameters": {
      "type": "object"
     }
    },
    "type": "object"
   },
   "Error": {
    "properties": {
     "detail": {
      "type": "string"
     },
     "error": {
      "type": "string"
     }
    },
    "type": "object"
   },
   "Img2ImgRequest": {
    "allOf": [
     {
      "$ref": "#/components/schemas/A1111Common"
     },
     {
      "properties": {
       "denoising_strength": {
        "type": "number"
       },
       "init_images": {
        "description": "one base64 PNG",
        "items": {
         "type": "string"
        },
        "maxItems": 1,
        "minItems": 1,
        "type": "array"
       },
       "resize_mode": {
        "description": "0 just resize, 1 crop and resize",
        "enum": [
         0,
         1
        ],
        "type": "integer"
       }
      },
      "required": [
       "init_images"
      ],
      "type": "object"
     }
    ],
    "description": "Also accepted at A1111's defaults only (else 422): restore_faces, tiling, enable_hr, subseed, override_settings, alwayson_scripts, ...; mask, inpainting_fill, ... (no inpainting)"
   },
   "OpenAIEditRequest": {
    "allOf": [
     {
      "$ref": "#/components/schemas/OpenAIGenerationRequest"
     },
     {
      "properties": {
       "image": {
        "description": "PNG file",
        "format": "binary",
        "type": "string"
       },
       "strength": {
        "description": "stylediff: denoising strength",
        "type": "number"
       }
      },
      "required": [
       "image"
      ],
      "type": "object"
     }
    ]
   },
   "OpenAIGenerationRequest": {
    "properties": {
     "guidance": {
      "description": "stylediff",
      "type": "number"
     },
     "model": {
      "description": "any; the loaded model answers",
      "type": "string"
     },
     "n": {
      "description": "1-10",
      "type": "integer"
     },
     "negative_prompt": {
      "description": "stylediff",
      "type": "string"
     },
     "prompt": {
      "type": "string"
     },
     "quality": {
      "enum": [
       "auto",
       "standard"
      ],
      "type": "string"
     },
     "response_format": {
      "enum": [
       "b64_json"
      ],
      "type": "string"
     },
     "seed": {
      "description": "stylediff",
      "type": "integer"
     },
     "size": {
      "description": "WxH or auto",
      "type": "string"
     },
     "steps": {
      "description": "stylediff",
      "type": "integer"
     },
     "user": {
      "type": "string"
     }
    },
    "required": [
     "prompt"
    ],
    "type": "object"
   },
   "OpenAIImagesResponse": {
    "properties": {
     "created": {
      "type": "integer"
     },
     "data": {
      "items": {
       "properties": {
        "b64_json": {
         "type": "string"
        },
        "revised_prompt": {
         "type": "string"
        }
       },
       "type": "object"
      },
      "type": "array"
     }
    },
    "type": "object"
   },
   "Options": {
    "type": "object"
   },
   "Progress": {
    "properties": {
     "current_image": {
      "description": "base64 PNG preview (latent resolution) or null",
      "nullable": true,
      "type": "string"
     },
     "eta_relative": {
      "type": "number"
     },
     "progress": {
      "type": "number"
     },
     "state": {
      "type": "object"
     },
     "textinfo": {
      "nullable": true,
      "type": "string"
     }
    },
    "type": "object"
   },
   "Txt2ImgRequest": {
    "allOf": [
     {
      "$ref": "#/components/schemas/A1111Common"
     }
    ],
    "description": "Also accepted at A1111's defaults only (else 422): restore_faces, tiling, enable_hr, subseed, override_settings, alwayson_scripts, ..."
   }
  },
  "securitySchemes": {
   "bearer": {
    "scheme": "bearer",
    "type": "http"
   }
  }
 },
 "info": {
  "description": "AUTOMATIC1111-compatible and OpenAI Images-compatible routes over one loaded stylediff model. With --api-key every route but / needs Authorization: Bearer KEY.",
  "title": "stylediff serve",
  "version": "1"
 },
 "openapi": "3.0.3",
 "paths": {
  "/": {
   "get": {
    "responses": {
     "200": {
      "content": {
       "text/html": {}
      },
      "description": "HTML"
     }
    },
    "summary": "The browser page",
    "tags": [
     "page"
    ]
   }
  },
  "/openapi.json": {
   "get": {
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      },
      "description": "OK"
     }
    },
    "summary": "This document",
    "tags": [
     "page"
    ]
   }
  },
  "/sdapi/v1/img2img": {
   "post": {
    "requestBody": {
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/Img2ImgRequest"
       }
      }
     },
     "required": true
    },
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/A1111Response"
        }
       }
      },
      "description": "OK"
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "404": {
      "$ref": "#/components/responses/E404"
     },
     "409": {
      "$ref": "#/components/responses/E409"
     },
     "413": {
      "$ref": "#/components/responses/E413"
     },
     "422": {
      "$ref": "#/components/responses/E422"
     },
     "429": {
      "$ref": "#/components/responses/E429"
     },
     "499": {
      "$ref": "#/components/responses/E499"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "summary": "Image to image",
    "tags": [
     "A1111"
    ]
   }
  },
  "/sdapi/v1/interrupt": {
   "post": {
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "properties": {
          "interrupted": {
           "type": "integer"
          }
         },
         "type": "object"
        }
       }
      },
      "description": "OK"
     }
    },
    "summary": "Stop the running generations (answered 409)",
    "tags": [
     "A1111"
    ]
   }
  },
  "/sdapi/v1/options": {
   "get": {
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      },
      "description": "OK"
     }
    },
    "summary": "Options",
    "tags": [
     "A1111"
    ]
   },
   "post": {
    "requestBody": {
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/Options"
       }
      }
     },
     "required": true
    },
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "nullable": true,
         "type": "object"
        }
       }
      },
      "description": "OK"
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "422": {
      "$ref": "#/components/responses/E422"
     }
    },
    "summary": "Restate options (changing one is 422)",
    "tags": [
     "A1111"
    ]
   }
  },
  "/sdapi/v1/progress": {
   "get": {
    "parameters": [
     {
      "in": "query",
      "name": "skip_current_image",
      "required": false,
      "schema": {
       "type": "boolean"
      }
     }
    ],
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Progress"
        }
       }
      },
      "description": "OK"
     }
    },
    "summary": "Progress of the running generation",
    "tags": [
     "A1111"
    ]
   }
  },
  "/sdapi/v1/prompt-styles": {
   "get": {
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "items": {
          "properties": {
           "name": {
            "type": "string"
           },
           "negative_prompt": {
            "type": "string"
           },
           "prompt": {
            "type": "string"
           }
          },
          "type": "object"
         },
         "type": "array"
        }
       }
      },
      "description": "OK"
     }
    },
    "summary": "The model's styles",
    "tags": [
     "A1111"
    ]
   }
  },
  "/sdapi/v1/samplers": {
   "get": {
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "items": {
          "properties": {
           "aliases": {
            "items": {
             "type": "string"
            },
            "type": "array"
           },
           "name": {
            "type": "string"
           },
           "options": {
            "type": "object"
           }
          },
          "type": "object"
         },
         "type": "array"
        }
       }
      },
      "description": "OK"
     }
    },
    "summary": "Samplers",
    "tags": [
     "A1111"
    ]
   }
  },
  "/sdapi/v1/sd-models": {
   "get": {
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "items": {
          "properties": {
           "filename": {
            "type": "string"
           },
           "hash": {
            "type": "string"
           },
           "model_name": {
            "type": "string"
           },
           "sha256": {
            "type": "string"
           },
           "title": {
            "type": "string"
           }
          },
          "type": "object"
         },
         "type": "array"
        }
       }
      },
      "description": "OK"
     }
    },
    "summary": "The loaded model",
    "tags": [
     "A1111"
    ]
   }
  },
  "/sdapi/v1/txt2img": {
   "post": {
    "requestBody": {
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/Txt2ImgRequest"
       }
      }
     },
     "required": true
    },
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/A1111Response"
        }
       }
      },
      "description": "OK"
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "409": {
      "$ref": "#/components/responses/E409"
     },
     "413": {
      "$ref": "#/components/responses/E413"
     },
     "422": {
      "$ref": "#/components/responses/E422"
     },
     "429": {
      "$ref": "#/components/responses/E429"
     },
     "499": {
      "$ref": "#/components/responses/E499"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "summary": "Text to image",
    "tags": [
     "A1111"
    ]
   }
  },
  "/v1/images/edits": {
   "post": {
    "requestBody": {
     "content": {
      "multipart/form-data": {
       "schema": {
        "$ref": "#/components/schemas/OpenAIEditRequest"
       }
      }
     },
     "required": true
    },
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/OpenAIImagesResponse"
        }
       }
      },
      "description": "OK"
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "409": {
      "$ref": "#/components/responses/E409"
     },
     "413": {
      "$ref": "#/components/responses/E413"
     },
     "422": {
      "$ref": "#/components/responses/E422"
     },
     "429": {
      "$ref": "#/components/responses/E429"
     },
     "499": {
      "$ref": "#/components/responses/E499"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "summary": "OpenAI Images: edits (img2img)",
    "tags": [
     "OpenAI"
    ]
   }
  },
  "/v1/images/generations": {
   "post": {
    "requestBody": {
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/OpenAIGenerationRequest"
       }
      }
     },
     "required": true
    },
    "responses": {
     "200": {
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/OpenAIImagesResponse"
        }
       }
      },
      "description": "OK"
     },
     "400": {
      "$ref": "#/components/responses/E400"
     },
     "401": {
      "$ref": "#/components/responses/E401"
     },
     "409": {
      "$ref": "#/components/responses/E409"
     },
     "413": {
      "$ref": "#/components/responses/E413"
     },
     "422": {
      "$ref": "#/components/responses/E422"
     },
     "429": {
      "$ref": "#/components/responses/E429"
     },
     "499": {
      "$ref": "#/components/responses/E499"
     },
     "500": {
      "$ref": "#/components/responses/E500"
     },
     "503": {
      "$ref": "#/components/responses/E503"
     }
    },
    "summary": "OpenAI Images: generations",
    "tags": [
     "OpenAI"
    ]
   }
  }
 },
 "security": [
  {
   "bearer": []
  }
 ]
}
"""#
}
