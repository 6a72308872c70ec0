/** A gRPC Greeter service definition with JSON messages: grpc-js takes any serializer, and the transport is under test, not protobuf. */
import type * as grpc from '@grpc/grpc-js';

export interface Hello {
  name?: string;
  message?: string;
  tenant?: string;
}

export const serializeHello = (value: Hello): Buffer => Buffer.from(JSON.stringify(value));
export const deserializeHello = (bytes: Buffer): Hello => JSON.parse(bytes.toString()) as Hello;

/** `/<pkg>.Greeter/SayHello` (unary) and `/<pkg>.Greeter/StreamHellos` (server streaming). */
export function greeter(pkg: string): grpc.ServiceDefinition {
  const method = (name: string, responseStream: boolean): grpc.MethodDefinition<Hello, Hello> => ({
    path: `/${pkg}.Greeter/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: serializeHello,
    requestDeserialize: deserializeHello,
    responseSerialize: serializeHello,
    responseDeserialize: deserializeHello,
  });
  return { sayHello: method('SayHello', false), streamHellos: method('StreamHellos', true) };
}
