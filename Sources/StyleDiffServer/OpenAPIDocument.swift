// The OpenAPI 3 document of every route (GET /openapi.json), built from one table of operations
// so that shared pieces (error answers, the A1111 and OpenAI request bases) are written once.
// StyleDiffServerTests keep it true: every documented operation answers a documented status,
// and the request schemas list exactly the fields the parsers implement.

import Foundation

enum OpenAPIDocument {
    static let json: String = {
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }()

    typealias Object = [String: Any]

    static func ref(_ name: String) -> Object { ["$ref": "#/components/schemas/" + name] }
    static func schema(_ type: String, _ description: String? = nil, _ extra: Object = [:]) -> Object {
        var s: Object = ["type": type]
        if let description { s["description"] = description }
        return s.merging(extra) { $1 }
    }
    static func jsonContent(_ schema: Object) -> Object { ["application/json": ["schema": schema]] }

    /// Error answers, each defined once under components/responses.
    static let errors: [(code: String, text: String)] = [
        ("400", "malformed body"), ("401", "missing or wrong API key"), ("404", "a referenced input is missing"),
        ("409", "interrupted"), ("413", "body over 32 MiB"), ("422", "unsupported field or value"),
        ("429", "queue full (Retry-After)"), ("499", "client closed the connection"), ("500", "internal error"),
        ("503", "deadline passed or shutting down (Retry-After)"),
    ]
    static let generationErrors = ["400", "401", "409", "413", "422", "429", "499", "500", "503"]

    static func operation(_ summary: String, tag: String, ok: Object, errors codes: [String] = [], body: Object? = nil,
                          parameters: [Object]? = nil) -> Object {
        var responses: Object = ["200": ok]
        for code in codes { responses[code] = ["$ref": "#/components/responses/E" + code] }
        var o: Object = ["summary": summary, "tags": [tag], "responses": responses]
        if let body { o["requestBody"] = body }
        if let parameters { o["parameters"] = parameters }
        return o
    }
    static func ok(_ schema: Object) -> Object { ["description": "OK", "content": jsonContent(schema)] }
    static func jsonBody(_ name: String) -> Object { ["required": true, "content": jsonContent(ref(name))] }
    static func list(_ properties: Object) -> Object { schema("array", nil, ["items": ["type": "object", "properties": properties]]) }

    static let neutralNote = "Also accepted at A1111's defaults only (else 422): restore_faces, tiling, enable_hr, subseed, "
        + "override_settings, alwayson_scripts, ..."

    static var a1111Common: Object { [
        "prompt": schema("string"), "negative_prompt": schema("string"), "seed": schema("integer", "-1: random"),
        "steps": schema("integer"), "cfg_scale": schema("number"), "sampler_name": schema("string", "GET /sdapi/v1/samplers"),
        "width": schema("integer"), "height": schema("integer"), "batch_size": schema("integer", "1-16"),
        "n_iter": schema("integer", "1-16"), "eta": schema("number"), "clip_skip": schema("integer"),
        "styles": schema("array", "at most one name of GET /sdapi/v1/prompt-styles", ["items": schema("string")]),
        "style": schema("string", "stylediff: a style of the model"),
        "style_images": schema("array", "stylediff: image style prompts", ["items": [
            "type": "object", "required": ["image"], "properties": ["image": schema("string", "base64 PNG"), "weight": schema("number")],
        ] as Object]),
        "style_strength": schema("number", "stylediff"), "style_snap": schema("number", "stylediff"),
        "blend": schema("string", "stylediff", ["enum": ["linear", "slerp"]]),
    ] }

    static var openAICommon: Object { [
        "prompt": schema("string"), "n": schema("integer", "1-10"), "size": schema("string", "WxH or auto"),
        "response_format": schema("string", nil, ["enum": ["b64_json"]]), "model": schema("string", "any; the loaded model answers"),
        "user": schema("string"), "quality": schema("string", nil, ["enum": ["auto", "standard"]]),
        "seed": schema("integer", "stylediff"), "negative_prompt": schema("string", "stylediff"),
        "steps": schema("integer", "stylediff"), "guidance": schema("number", "stylediff"),
    ] }

    static var document: Object {
        let imageList = schema("array", "base64 PNGs with stylediff metadata", ["items": schema("string")])
        let paths: Object = [
            "/": ["get": operation("The browser page", tag: "page", ok: ["description": "HTML", "content": ["text/html": Object()]])],
            "/openapi.json": ["get": operation("This document", tag: "page", ok: ok(schema("object")))],
            "/sdapi/v1/txt2img": ["post": operation("Text to image", tag: "A1111", ok: ok(ref("A1111Response")),
                                                    errors: generationErrors, body: jsonBody("Txt2ImgRequest"))],
            "/sdapi/v1/img2img": ["post": operation("Image to image", tag: "A1111", ok: ok(ref("A1111Response")),
                                                    errors: generationErrors + ["404"], body: jsonBody("Img2ImgRequest"))],
            "/sdapi/v1/samplers": ["get": operation("Samplers", tag: "A1111", ok: ok(list(
                ["name": schema("string"), "aliases": schema("array", nil, ["items": schema("string")]), "options": schema("object")])))],
            "/sdapi/v1/sd-models": ["get": operation("The loaded model", tag: "A1111", ok: ok(list(
                ["title": schema("string"), "model_name": schema("string"), "hash": schema("string"), "sha256": schema("string"),
                 "filename": schema("string")])))],
            "/sdapi/v1/prompt-styles": ["get": operation("The model's styles", tag: "A1111", ok: ok(list(
                ["name": schema("string"), "prompt": schema("string"), "negative_prompt": schema("string")])))],
            "/sdapi/v1/options": [
                "get": operation("Options", tag: "A1111", ok: ok(schema("object"))),
                "post": operation("Restate options (changing one is 422)", tag: "A1111", ok: ok(schema("object", nil, ["nullable": true])),
                                  errors: ["400", "422"], body: jsonBody("Options")),
            ],
            "/sdapi/v1/progress": ["get": operation("Progress of the running generation", tag: "A1111", ok: ok(ref("Progress")),
                                                    parameters: [["name": "skip_current_image", "in": "query", "required": false,
                                                                  "schema": schema("boolean")]])],
            "/sdapi/v1/interrupt": ["post": operation("Stop the running generations (answered 409)", tag: "A1111",
                                                      ok: ok(schema("object", nil, ["properties": ["interrupted": schema("integer")]])))],
            "/v1/images/generations": ["post": operation("OpenAI Images: generations", tag: "OpenAI", ok: ok(ref("OpenAIImagesResponse")),
                                                         errors: generationErrors, body: jsonBody("OpenAIGenerationRequest"))],
            "/v1/images/edits": ["post": operation("OpenAI Images: edits (img2img)", tag: "OpenAI", ok: ok(ref("OpenAIImagesResponse")),
                                                   errors: generationErrors,
                                                   body: ["required": true, "content": ["multipart/form-data": ["schema": ref("OpenAIEditRequest")]]])],
        ]
        let schemas: Object = [
            "Error": ["type": "object", "properties": ["error": schema("string"), "detail": schema("string")]],
            "A1111Common": ["type": "object", "properties": a1111Common],
            "Txt2ImgRequest": ["description": neutralNote, "allOf": [ref("A1111Common")]],
            "Img2ImgRequest": ["description": neutralNote + "; mask, inpainting_fill, ... (no inpainting)", "allOf": [
                ref("A1111Common"),
                ["type": "object", "required": ["init_images"], "properties": [
                    "init_images": schema("array", "one base64 PNG", ["items": schema("string"), "minItems": 1, "maxItems": 1]),
                    "denoising_strength": schema("number"),
                    "resize_mode": schema("integer", "0 just resize, 1 crop and resize", ["enum": [0, 1]]),
                ] as Object] as Object,
            ]],
            "A1111Response": ["type": "object", "properties": [
                "images": imageList, "parameters": schema("object"), "info": schema("string", "JSON text: seeds, infotexts, ..."),
            ] as Object],
            "Progress": ["type": "object", "properties": [
                "progress": schema("number"), "eta_relative": schema("number"),
                "current_image": schema("string", "base64 PNG preview or null", ["nullable": true]),
                "textinfo": schema("string", nil, ["nullable": true]), "state": schema("object"),
            ] as Object],
            "Options": schema("object"),
            "OpenAIGenerationRequest": ["type": "object", "required": ["prompt"], "properties": openAICommon],
            "OpenAIEditRequest": ["allOf": [
                ref("OpenAIGenerationRequest"),
                ["type": "object", "required": ["image"], "properties": [
                    "image": schema("string", "PNG file", ["format": "binary"]),
                    "strength": schema("number", "stylediff: denoising strength"),
                ] as Object] as Object,
            ]],
            "OpenAIImagesResponse": ["type": "object", "properties": [
                "created": schema("integer"),
                "data": schema("array", nil, ["items": ["type": "object", "properties": [
                    "b64_json": schema("string"), "revised_prompt": schema("string")]] as Object]),
            ] as Object],
        ]
        var responses: Object = [:]
        for e in errors { responses["E" + e.code] = ["description": e.text, "content": jsonContent(ref("Error"))] }
        return [
            "openapi": "3.0.3",
            "info": ["title": "stylediff serve", "version": "1",
                     "description": "AUTOMATIC1111-compatible and OpenAI Images-compatible routes over one loaded stylediff model. "
                        + "With --api-key every route but / needs Authorization: Bearer KEY."],
            "paths": paths,
            "components": ["schemas": schemas, "responses": responses,
                           "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]]],
            "security": [["bearer": [String]()]],
        ]
    }
}
