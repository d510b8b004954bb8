// What the layer's bundle gets for `@fastify/ajv-compiler` and
// `@fastify/fast-json-stringify-compiler`: fastify builds its schema compilers from these only for
// a route that declares a JSON schema, and the trace receiver declares none, so ajv and
// fast-json-stringify (a fifth of the components bundle, and their evaluation at every cold start)
// are left out. fastify still calls the selector once per instance; the builder it returns says
// what is missing if a schema ever reaches it. scripts/build-layer.mjs maps both packages here.
'use strict';

function noSchemaCompiler() {
  return function buildCompilerFromPool() {
    throw new Error(
      'serverless-agent: this layer has no JSON schema compiler (ajv and fast-json-stringify are left out of the bundle); a route must not declare a schema',
    );
  };
}

module.exports = noSchemaCompiler;
module.exports.default = noSchemaCompiler;
module.exports.AjvCompiler = noSchemaCompiler;
module.exports.SerializerSelector = noSchemaCompiler;
