/** Placeholder replaced by the route table module. */
export interface CompiledRoute { readonly name: string }
