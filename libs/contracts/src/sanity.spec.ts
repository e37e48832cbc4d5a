import { describe, expect, it } from 'vitest';
import { placeholder } from '@access/contracts';
function Dec(): ClassDecorator { return () => undefined; }
@Dec()
class A { constructor(readonly x: number) {} }
describe('toolchain', () => { it('resolves aliases and decorators', () => { expect(placeholder + new A(1).x).toBe(2); }); });
