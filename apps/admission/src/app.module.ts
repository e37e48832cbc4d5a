import { Module, type DynamicModule } from '@nestjs/common';
import { AdmissionService } from '@access/admission-application';
import { AdmissionRouter } from '@access/admission-adapters';
import { ServiceShellModule, type ShellOptions } from '@access/platform-http';
import { AdmissionController } from './admission.controller';

/** The admission app: the shared shell (health, metrics, docs, scope guard) and the admission API. */
@Module({})
export class AdmissionAppModule {
  static forRoot(service: AdmissionService, router: AdmissionRouter, shell: ShellOptions): DynamicModule {
    return {
      module: AdmissionAppModule,
      imports: [ServiceShellModule.forRoot(shell)],
      controllers: [AdmissionController],
      providers: [
        { provide: AdmissionService, useValue: service },
        { provide: AdmissionRouter, useValue: router },
      ],
    };
  }
}
